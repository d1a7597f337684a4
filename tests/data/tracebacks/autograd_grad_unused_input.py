"""Gradients of a loss with respect to every parameter, one of them unused in the forward."""

import torch
from torch import nn

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 8)
        self.decoder = nn.Linear(8, 4)
        self.aux_head = nn.Linear(8, 2)  # only used in pre-training

    def forward(self, x):
        return self.decoder(torch.relu(self.encoder(x)))


net = Net()
x = torch.randn(5, 4)
loss = (net(x) - x).pow(2).mean()
grads = torch.autograd.grad(loss, list(net.parameters()))
