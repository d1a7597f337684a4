"""Self-attention whose padding mask is applied in place to the softmax's output: softmax saved
its result for backward."""

import math

import torch
import torch.nn as nn


class Attention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x, pad):
        scores = self.q(x) @ self.k(x).transpose(1, 2) / math.sqrt(x.size(-1))
        attn = scores.softmax(dim=-1)
        attn.masked_fill_(pad.unsqueeze(1), 0.0)  # padding positions get no weight
        return attn @ self.v(x)


layer = Attention(16)
x = torch.randn(2, 5, 16)
pad = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 1]], dtype=torch.bool)
out = layer(x, pad)
out.pow(2).mean().backward()
