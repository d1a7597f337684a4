"""Two heads on one feature tensor, the second behind nn.ReLU(inplace=True)."""

import torch
from torch import nn

torch.manual_seed(0)


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.gate = nn.Linear(16, 16)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        feats = torch.sigmoid(self.body(x))
        gated = self.gate(feats)
        return self.head(self.relu(feats) + gated)


model = TwoHeads()
loss = model(torch.randn(4, 8)).pow(2).mean()
loss.backward()
