"""A running total of losses carried across iterations (fails on purpose).

total_loss keeps every earlier iteration's graph; the first backward freed it.
Fix: total_loss += loss.item() (a number), and backward on this iteration's loss.
"""

import torch

w = torch.ones(3, requires_grad=True)
total_loss = 0
for step in range(3):
    loss = (w * step).pow(2).sum()
    total_loss = total_loss + loss
    total_loss.backward()
