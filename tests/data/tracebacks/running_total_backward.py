"""Backward through the running total of the epoch's losses."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
batches = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(5)]

total_loss = 0
for x, y in batches:
    loss = nn.functional.mse_loss(model(x), y)
    total_loss = total_loss + loss
    optimizer.zero_grad()
    total_loss.backward()
    optimizer.step()
print("epoch loss", total_loss.item() / len(batches))
