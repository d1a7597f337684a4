"""A classifier "trained" on a loss built from argmax predictions: argmax has no gradient, so
the loss has no grad_fn."""

import torch
import torch.nn as nn

net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
opt = torch.optim.Adam(net.parameters())
features, labels = torch.randn(64, 10), torch.randint(0, 3, (64,))

net.train()
logits = net(features)
predicted = logits.argmax(dim=1)
loss = nn.functional.mse_loss(predicted.float(), labels.float())
opt.zero_grad()
loss.backward()
opt.step()
