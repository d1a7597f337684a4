"""Clamping probabilities in place through a flattened view before the loss."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(5, 3)
x, target = torch.randn(4, 5), torch.tensor([0, 2, 1, 0])

probs = torch.softmax(model(x), dim=1)
flat = probs.view(-1)
flat.clamp_(min=1e-6)
loss = nn.functional.nll_loss(probs.log(), target)
loss.backward()
