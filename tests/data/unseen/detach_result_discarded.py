"""A GitHub issue: "I DO call detach() on the hidden state and still get 'backward through the
graph a second time'" -- hidden.detach() returns a new tensor; its result is thrown away."""

import torch
from torch import nn

rnn = nn.GRU(8, 12)
head = nn.Linear(12, 1)
optim = torch.optim.SGD(list(rnn.parameters()) + list(head.parameters()), lr=0.01)
series = torch.randn(50, 1, 8)
hidden = torch.zeros(1, 1, 12)

for start in range(0, 40, 10):
    window = series[start : start + 10]
    target = series[start + 1 : start + 11, :, :1]
    hidden.detach()  # cut the graph between windows
    out, hidden = rnn(window, hidden)
    loss = ((head(out) - target) ** 2).mean()
    optim.zero_grad()
    loss.backward()
    optim.step()
