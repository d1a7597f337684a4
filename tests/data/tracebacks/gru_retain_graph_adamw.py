"""A GRU tagger whose state is carried across batches with retain_graph=True, under AdamW."""

import torch
from torch import nn

torch.manual_seed(0)
gru = nn.GRU(input_size=6, hidden_size=16, batch_first=True)
head = nn.Linear(16, 1)
params = list(gru.parameters()) + list(head.parameters())
optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
h = torch.zeros(1, 8, 16)

for _step in range(5):
    x, target = torch.randn(8, 10, 6), torch.randn(8, 10, 1)
    out, h = gru(x, h)
    loss = nn.functional.mse_loss(head(out), target)
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    optimizer.step()
