"""Slice assignment into an activation that backward needs (fails on purpose).

tanh saves its output; writing zeros into its first column changes that output in place.
Fix: h = torch.cat([torch.zeros_like(h[:, :1]), h[:, 1:]], dim=1), or mask out of place.
"""

import torch

torch.manual_seed(0)
w = torch.randn(4, 6, requires_grad=True)
x = torch.randn(8, 4)
h = torch.tanh(x @ w)
h[:, 0] = 0  # in place into tanh's saved output, on purpose
loss = h.pow(2).sum()
loss.backward()
