"""A forum post: "my seq2seq trains one batch, then backward fails" -- the LSTM's state is kept
on the model (self.hidden) across batches and never cut from the previous batch's graph."""

import torch
import torch.nn as nn


class Seq2Seq(nn.Module):
    def __init__(self, vocab=20, dim=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, vocab)
        self.hidden = None

    def forward(self, tokens):
        x = self.emb(tokens)
        y, self.hidden = self.lstm(x, self.hidden)
        return self.out(y)


model = Seq2Seq()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
data = torch.randint(0, 20, (4, 3, 9))
for _epoch in range(2):
    for batch in data:
        logits = model(batch[:, :-1])
        loss = crit(logits.reshape(-1, 20), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
