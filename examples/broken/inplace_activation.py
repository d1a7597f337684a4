"""An in-place activation inside a module (fails on purpose).

sigmoid saves its output for backward; ReLU(inplace=True) right after it overwrites that
output. Fix: nn.ReLU() without inplace=True.
"""

import torch
from torch import nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.ReLU(inplace=True), nn.Linear(8, 1))
x = torch.randn(16, 4)
loss = net(x).pow(2).mean()
loss.backward()
