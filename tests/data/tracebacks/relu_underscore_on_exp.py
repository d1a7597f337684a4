"""Positive scales from exp, clamped with torch.relu_ in place."""

import torch

torch.manual_seed(0)
log_scale = torch.randn(5, requires_grad=True)
x = torch.randn(5)


def scaled(x):
    scale = torch.exp(log_scale)
    y = x * scale
    torch.relu_(scale)
    return (y * scale).sum()


loss = scaled(x)
loss.backward()
