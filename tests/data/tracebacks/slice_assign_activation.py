"""Masking the first unit of an activation by slice assignment."""

import torch
from torch import nn

torch.manual_seed(0)
layer = nn.Linear(6, 4)
x = torch.randn(3, 6)

h = torch.sigmoid(layer(x))
h[:, 0] = 0  # padding unit off
loss = h.sum()
loss.backward()
