"""Truncated BPTT with an LSTM where only h is detached between chunks; c still carries the
previous chunk's (freed) graph."""

import torch
import torch.nn as nn

torch.manual_seed(1)
lstm = nn.LSTM(input_size=5, hidden_size=7, num_layers=2)
proj = nn.Linear(7, 5)
params = list(lstm.parameters()) + list(proj.parameters())
optimizer = torch.optim.RMSprop(params, lr=1e-3)
seq = torch.randn(60, 2, 5)
bptt = 12
h_n = torch.zeros(2, 2, 7)
c_n = torch.zeros(2, 2, 7)

for i in range(0, seq.size(0) - bptt, bptt):
    x, y = seq[i : i + bptt], seq[i + 1 : i + 1 + bptt]
    h_n = h_n.detach()
    out, (h_n, c_n) = lstm(x, (h_n, c_n))
    loss = nn.functional.mse_loss(proj(out), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
