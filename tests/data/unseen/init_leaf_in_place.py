"""A custom layer that initialises its own weight in place after asking for gradients."""

import torch


class MyLinear:
    def __init__(self, n_in, n_out):
        self.W = torch.empty(n_in, n_out, requires_grad=True)
        self.b = torch.zeros(n_out, requires_grad=True)
        self.W.uniform_(-1 / n_in**0.5, 1 / n_in**0.5)

    def __call__(self, x):
        return x @ self.W + self.b


layer = MyLinear(5, 2)
print(layer(torch.randn(3, 5)).sum())
