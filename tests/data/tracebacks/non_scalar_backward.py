"""Backward on a per-sample loss."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(3, 1)
criterion = nn.MSELoss(reduction="none")
x, y = torch.randn(16, 3), torch.randn(16, 1)

loss = criterion(model(x), y)
loss.backward()
