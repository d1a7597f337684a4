"""A GAN-like step: two optimizers, two backward calls over one forward (fails on purpose).

opt_d.step() changes D's weights in place between the two backward calls; g_loss's backward
still needs the weights D(fake) saved. Fix: compute g_loss after opt_d.step() with a fresh
forward, or step D only after both backward calls.
"""

import torch
from torch import nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4))
D = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())

real, noise = torch.randn(16, 4), torch.randn(16, 4)
fake = G(noise)
d_loss = D(real).mean() - D(fake).mean()
g_loss = D(fake).mean()  # saves D's weights for g_loss's backward
opt_d.zero_grad()  # zero_grad: D's gradients from earlier steps must not add up
d_loss.backward(retain_graph=True)  # retain_graph: g_loss's backward runs through G's graph too
opt_d.step()  # in place on D's weights, on purpose: the backward below needs their old values
opt_g.zero_grad()  # zero_grad: G's gradients from earlier steps must not add up
g_loss.backward()
opt_g.step()
