"""A hidden state carried across loop iterations without detach (fails on purpose).

The second batch's backward runs into the first batch's graph through `state`, and the first
backward already freed it. Fix: state = state.detach() before the next batch uses it.
"""

import torch
from torch import nn

torch.manual_seed(0)
rnn = nn.RNN(3, 5)
head = nn.Linear(5, 3)
opt = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=0.1)
state = torch.zeros(1, 2, 5)


def train_step(x, y, state):
    out, state = rnn(x, state)
    loss = nn.functional.mse_loss(head(out), y)
    opt.zero_grad()  # zero_grad: each batch's gradient alone
    loss.backward()
    opt.step()
    return state


for _batch in range(3):
    x, y = torch.randn(4, 2, 3), torch.randn(4, 2, 3)
    state = train_step(x, y, state)
