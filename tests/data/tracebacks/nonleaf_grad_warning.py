"""Reading the gradient of an activation after backward."""

import torch
from torch import nn

torch.manual_seed(0)
layer = nn.Linear(3, 2)
h = torch.tanh(layer(torch.randn(4, 3)))
h.sum().backward()
print(h.grad)
