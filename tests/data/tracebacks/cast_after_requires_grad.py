"""Parameters created with requires_grad=True, then cast to double for precision."""

import torch

torch.manual_seed(0)
W = torch.randn(3, 3, requires_grad=True).double()
b = torch.zeros(3, requires_grad=True).double()
optimizer = torch.optim.SGD([W, b], lr=0.1)
