"""A GAN step that updates D before the generator's backward reuses D's old graph."""

import torch
from torch import nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
criterion = nn.BCEWithLogitsLoss()
ones, zeros = torch.ones(32, 1), torch.zeros(32, 1)


def train_step(real):
    z = torch.randn(32, 4)
    fake = G(z)
    pred_fake = D(fake)
    d_loss = criterion(D(real), ones) + criterion(pred_fake, zeros)
    g_loss = criterion(pred_fake, ones)

    opt_D.zero_grad()
    d_loss.backward(retain_graph=True)
    opt_D.step()

    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()


for _epoch in range(2):
    train_step(torch.randn(32, 2) + 3)
