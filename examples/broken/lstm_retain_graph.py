"""An LSTM whose state is carried with retain_graph=True and a step between batches (fails on purpose).

The second batch's backward runs into the first batch's graph, whose saved weights the
optimizer's step() has changed since. Fix: detach the state between batches instead.
"""

import torch
from torch import nn

torch.manual_seed(0)
lstm = nn.LSTM(3, 5)
head = nn.Linear(5, 3)
opt = torch.optim.SGD([*lstm.parameters(), *head.parameters()], lr=0.1)
state = None
for _batch in range(3):
    x, y = torch.randn(4, 2, 3), torch.randn(4, 2, 3)
    out, state = lstm(x, state)
    loss = nn.functional.mse_loss(head(out), y)
    opt.zero_grad()  # zero_grad: each batch's gradient alone
    loss.backward(retain_graph=True)  # retain_graph, on purpose: the remedy that does not work
    opt.step()  # in place on the weights the earlier batches' graphs saved
