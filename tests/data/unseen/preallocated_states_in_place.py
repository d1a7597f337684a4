"""A hand-written RNN that writes each step's state into a preallocated tensor: the next step's
matmul saved a view of that tensor, and the next write changes it."""

import torch

torch.manual_seed(0)
B, T, H = 3, 6, 4
W_h = torch.randn(H, H, requires_grad=True)
W_x = torch.randn(H, H, requires_grad=True)
inputs = torch.randn(B, T, H)

states = torch.zeros(B, T + 1, H)
for t in range(T):
    states[:, t + 1] = torch.tanh(states[:, t] @ W_h + inputs[:, t] @ W_x)

loss = states[:, -1].sum()
loss.backward()
