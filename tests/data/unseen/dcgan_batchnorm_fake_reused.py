"""A DCGAN-style step with BatchNorm in both nets, where the discriminator's loss on the fakes
is backpropagated through the generator too; the generator's backward then meets the freed
generator graph."""

import torch
import torch.nn as nn

nz = 8
netG = nn.Sequential(nn.Linear(nz, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh())
netD = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
criterion = nn.BCEWithLogitsLoss()
optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
real_batch = torch.randn(16, 16)
real_label, fake_label = torch.ones(16, 1), torch.zeros(16, 1)

noise = torch.randn(16, nz)
fake = netG(noise)
netD.zero_grad()
errD_real = criterion(netD(real_batch), real_label)
errD_real.backward()
errD_fake = criterion(netD(fake), fake_label)
errD_fake.backward()
optD.step()

netG.zero_grad()
errG = criterion(netD(fake), real_label)
errG.backward()
optG.step()
