"""A GAN step whose discriminator loss uses D(fake) without fake.detach()."""

import torch
from torch import nn

torch.manual_seed(0)
netG = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
netD = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid())
optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4)
optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4)
criterion = nn.BCELoss()

for _i in range(3):
    real = torch.randn(32, 2) + 3
    noise = torch.randn(32, 4)
    fake = netG(noise)

    netD.zero_grad()
    errD = criterion(netD(real), torch.ones(32, 1)) + criterion(netD(fake), torch.zeros(32, 1))
    errD.backward()
    optimizerD.step()

    netG.zero_grad()
    errG = criterion(netD(fake), torch.ones(32, 1))
    errG.backward()
    optimizerG.step()
