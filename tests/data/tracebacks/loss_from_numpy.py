"""A custom loss computed in NumPy and wrapped back into a tensor."""

import numpy as np
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 3), torch.randn(16, 1)

pred = model(x)
loss = torch.tensor(np.mean(np.abs(pred.detach().numpy() - y.numpy())))
optimizer.zero_grad()
loss.backward()
optimizer.step()
