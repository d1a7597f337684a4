"""The epoch's losses summed with += and backpropagated as the average so far."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
total_loss = torch.zeros(())

for step in range(1, 6):
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    loss = nn.functional.mse_loss(model(x), y)
    total_loss += loss
    optimizer.zero_grad()
    (total_loss / step).backward()
    optimizer.step()
