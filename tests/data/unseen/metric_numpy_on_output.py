"""A metric helper that turns the model's output into NumPy without detaching it."""

import numpy as np
import torch
from torch import nn


def r2_score(pred, target):
    p, t = pred.numpy(), target.numpy()
    return 1 - ((p - t) ** 2).sum() / ((t - t.mean()) ** 2).sum()


model = nn.Linear(4, 1)
xb, yb = torch.randn(32, 4), torch.randn(32, 1)
out = model(xb)
loss = nn.functional.l1_loss(out, yb)
loss.backward()
print("r2", np.round(r2_score(out, yb), 3))
