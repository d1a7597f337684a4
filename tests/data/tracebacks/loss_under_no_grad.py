"""A shared forward helper decorated with @torch.no_grad(), reused for training."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()


@torch.no_grad()
def forward(batch):
    return model(batch)


x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
loss = criterion(forward(x), y)
optimizer.zero_grad()
loss.backward()
optimizer.step()
