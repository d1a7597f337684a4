"""A regression step whose loss is the element-wise squared error, never reduced to a number."""

import torch

model = torch.nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
inputs = torch.randn(8, 2)
targets = inputs @ torch.tensor([[2.0], [-1.0]])

prediction = model(inputs)
loss = (prediction - targets) ** 2
optimizer.zero_grad()
loss.backward()
optimizer.step()
