"""Zeroing the padding row of an embedding after building the model."""

import torch
from torch import nn

emb = nn.Embedding(10, 4)
emb.weight[0] = 0
out = emb(torch.tensor([[0, 3, 5]]))
out.sum().backward()
