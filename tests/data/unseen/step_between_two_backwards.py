"""Multi-task training: the first task's loss is backpropagated and stepped before the second
task's loss, over the same forward, is backpropagated."""

import torch
import torch.nn as nn

encoder = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
head_a, head_b = nn.Linear(8, 1), nn.Linear(8, 1)
opt = torch.optim.SGD([*encoder.parameters(), *head_a.parameters(), *head_b.parameters()], lr=0.1)

x, ya, yb = torch.randn(4, 8), torch.randn(4, 1), torch.randn(4, 1)
z = torch.relu(encoder(x))
loss_a = nn.functional.mse_loss(head_a(z), ya)
loss_b = nn.functional.mse_loss(head_b(z), yb)
opt.zero_grad()
loss_a.backward(retain_graph=True)
opt.step()
loss_b.backward()
opt.step()
