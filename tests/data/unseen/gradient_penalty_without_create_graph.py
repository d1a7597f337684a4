"""WGAN-GP's gradient penalty, with the critic's input gradient taken without create_graph:
the gradient has no graph, so the penalty built from it cannot be backpropagated."""

import torch
from torch import autograd, nn

critic = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
opt_c = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
real, fake = torch.randn(32, 2), torch.randn(32, 2)

alpha = torch.rand(32, 1)
interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
scores = critic(interp)
grad_interp = autograd.grad(scores, interp, grad_outputs=torch.ones_like(scores))[0]
penalty = 10 * ((grad_interp.norm(2, dim=1) - 1) ** 2).mean()
opt_c.zero_grad()
penalty.backward()
opt_c.step()
