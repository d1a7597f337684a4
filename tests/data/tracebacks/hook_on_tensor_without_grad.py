"""A saliency map: a hook on the input image to catch its gradient."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
image = torch.randn(1, 1, 8, 8)
saliency = {}
image.register_hook(lambda grad: saliency.setdefault("image", grad.abs()))
score = model(image)[0].max()
score.backward()
