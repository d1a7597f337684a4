"""The notebook's training setup, rebuilt for the ``rnn-state`` cases.

``nn.RNN(20, 256)`` over one-hot inputs, the synthetic "runs of 5 consecutive integers" sequence
(200 runs, each starting at ``random.randint(0, 10)``), overlapping windows of 20 steps
(``X[:, i] = x[i:T-num_steps+i]``) in unshuffled batches of 50 (19 batches an epoch), SGD with
lr 0.05 and cross-entropy. Private to the case library: the pipeline's ``data``/``model`` modules
are not needed to read a case, and a case must not change when the pipeline does.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import data

VOCAB, HIDDEN, NUM_STEPS, BATCH, EPOCHS = 20, 256, 20, 50, 2
BATCHES_PER_EPOCH = (1000 - NUM_STEPS) // BATCH  # 19


def notebook_tokens() -> torch.Tensor:
    """1000 ints: 200 runs of 5 consecutive ints, each run starting at randint(0, 10)."""
    seq: list[int] = []
    for _ in range(1000 // 5):
        start = random.randint(0, 10)  # the case runner seeds `random`
        seq.extend(range(start, start + 5))
    return torch.tensor(seq, dtype=torch.int64)


def windows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row j of X is x[j : j + num_steps]; Y is X shifted by one token (the notebook's loop)."""
    T = len(x)
    X = torch.zeros((T - NUM_STEPS, NUM_STEPS), dtype=x.dtype)
    Y = torch.zeros((T - NUM_STEPS, NUM_STEPS), dtype=x.dtype)
    for i in range(NUM_STEPS):
        X[:, i] = x[i : T - NUM_STEPS + i]
        Y[:, i] = x[i + 1 : T - NUM_STEPS + i + 1]
    return X, Y


def loader(x: torch.Tensor) -> data.DataLoader:
    """Whole batches of 50 windows, in order (no shuffle), as in the notebook."""
    X, Y = windows(x)
    n = X.shape[0] // BATCH * BATCH
    return data.DataLoader(data.TensorDataset(X[:n], Y[:n]), batch_size=BATCH)


class RNNModel(nn.Module):
    """The notebook's RNNModel for a unidirectional nn.RNN: one-hot in, linear out."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(VOCAB, HIDDEN)
        self.linear = nn.Linear(HIDDEN, VOCAB)

    def forward(
        self, inputs: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        X = F.one_hot(inputs.T.long(), VOCAB).to(torch.float32)  # (T, B, V)
        Y, state = self.rnn(X, state)  # Y: (T, B, H), state: (1, B, H)
        return self.linear(Y.reshape((-1, Y.shape[-1]))), state  # (T*B, V)

    def begin_state(self, batch_size: int) -> torch.Tensor:
        return torch.zeros((self.rnn.num_layers, batch_size, HIDDEN))


def notebook() -> tuple[RNNModel, data.DataLoader, torch.optim.SGD, nn.CrossEntropyLoss]:
    """(net, data_iter, updater, loss) exactly as the notebook builds them."""
    data_iter = loader(notebook_tokens())
    net = RNNModel()
    return net, data_iter, torch.optim.SGD(net.parameters(), lr=0.05), nn.CrossEntropyLoss()


def epoch_means(losses: list[float]) -> list[float]:
    """Mean loss of each epoch, from the per-batch losses of a whole run."""
    n = BATCHES_PER_EPOCH
    return [sum(losses[i : i + n]) / n for i in range(0, len(losses), n)]
