"""A language model whose LSTM state is carried across batches with retain_graph=True."""

import torch
from torch import nn

torch.manual_seed(0)


class LM(nn.Module):
    def __init__(self, vocab=20, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, hidden):
        out, hidden = self.lstm(self.embed(x), hidden)
        return self.head(out), hidden


model = LM()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
data = torch.randint(0, 20, (8, 4, 11))
hidden = (torch.zeros(1, 4, 32), torch.zeros(1, 4, 32))

for batch in data:
    x, y = batch[:, :-1], batch[:, 1:]
    logits, hidden = model(x, hidden)
    loss = criterion(logits.reshape(-1, 20), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    optimizer.step()
