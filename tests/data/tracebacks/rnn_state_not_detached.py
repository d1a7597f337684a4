"""A character model whose GRU state is carried from batch to batch without a detach."""

import torch
from torch import nn

torch.manual_seed(0)
embed, rnn, head = nn.Embedding(30, 16), nn.GRU(16, 32, batch_first=True), nn.Linear(32, 30)
params = [*embed.parameters(), *rnn.parameters(), *head.parameters()]
optimizer = torch.optim.SGD(params, lr=0.5)
text = torch.randint(0, 30, (6, 4, 21))
hidden = torch.zeros(1, 4, 32)

for chunk in text:
    inputs, targets = chunk[:, :-1], chunk[:, 1:]
    output, hidden = rnn(embed(inputs), hidden)
    loss = nn.functional.cross_entropy(head(output).reshape(-1, 30), targets.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
