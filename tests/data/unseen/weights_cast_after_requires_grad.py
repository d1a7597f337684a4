"""Logistic regression by hand: the weights are made with requires_grad=True and then cast, so
the name holds a non-leaf whose .grad stays None."""

import torch

torch.manual_seed(0)
X = torch.randn(100, 3, dtype=torch.float64)
y = (X.sum(1, keepdim=True) > 0).double()
weights = torch.randn(3, 1, requires_grad=True).double()
bias = torch.zeros(1, requires_grad=True).double()

for _epoch in range(3):
    p = torch.sigmoid(X @ weights + bias)
    loss = torch.nn.functional.binary_cross_entropy(p, y)
    loss.backward()
    weights.data -= 0.1 * weights.grad.data
    bias.data -= 0.1 * bias.grad.data
