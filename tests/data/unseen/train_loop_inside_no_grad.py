"""A notebook-style script where the training loop ended up inside the validation's no_grad
block: the loss is computed with grad mode off."""

import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
criterion = nn.CrossEntropyLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
val_x, val_y = torch.randn(20, 4), torch.randint(0, 2, (20,))

with torch.no_grad():
    model.eval()
    print("val loss", criterion(model(val_x), val_y).item())

    model.train()
    for _ in range(3):
        xb, yb = torch.randn(8, 4), torch.randint(0, 2, (8,))
        loss = criterion(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
