"""The cost of ``record()`` (what ``rnn-autograd run`` adds): the notebook's loop with and without it.

The loop is the notebook's: d2l's ``train_epoch_ch8`` over its one-hot ``RNNModel`` on
``nn.RNN`` (vocabulary 28, hidden 256, batch 32, 35 steps), ``state.detach_()`` between batches,
the hand-written gradient clipping and SGD. A second loop is the worst case for a recorder that
sees every torch call made from Python: the same network written from scratch, one ``tanh``
step per time step (d2l's ``rnn()``), so about ten Python-level torch calls per token column.

Both loops run with and without recording, interleaved round by round in one run (load drift
slows both alike); the test prints the ratio of medians (recorded / plain), by wall clock and
by CPU time. The issue's bound is 3x for the notebook's loop. No speed is asserted::

    pytest tests/benchmarks/test_recording.py --benchmark-only -s
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnn_autograd

VOCAB, HIDDEN, BATCH, STEPS, NUM_BATCHES, ROUNDS = 28, 256, 32, 35, 10, 7

# d2l's Accumulator reads the loss with float() while it still requires grad; torch warns
pytestmark = pytest.mark.filterwarnings(
    "ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning"
)


class NotebookModel(nn.Module):
    """The notebook's model over ``nn.RNN``."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(VOCAB, HIDDEN)
        self.linear = nn.Linear(HIDDEN, VOCAB)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), VOCAB).to(torch.float32)
        Y, state = self.rnn(X, state)
        return self.linear(Y.reshape((-1, Y.shape[-1]))), state


class ScratchModel(nn.Module):
    """d2l's RNN from scratch: one Python-level step per time step."""

    def __init__(self):
        super().__init__()
        self.W_xh = nn.Parameter(torch.randn(VOCAB, HIDDEN) * 0.01)
        self.W_hh = nn.Parameter(torch.randn(HIDDEN, HIDDEN) * 0.01)
        self.b_h = nn.Parameter(torch.zeros(HIDDEN))
        self.W_hq = nn.Parameter(torch.randn(HIDDEN, VOCAB) * 0.01)
        self.b_q = nn.Parameter(torch.zeros(VOCAB))

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), VOCAB).to(torch.float32)
        H, outputs = state[0], []
        for x in X:
            H = torch.tanh(torch.mm(x, self.W_xh) + torch.mm(H, self.W_hh) + self.b_h)
            outputs.append(torch.mm(H, self.W_hq) + self.b_q)
        return torch.cat(outputs, dim=0), torch.stack([H])  # not a view: detach_() needs that


def grad_clipping(net, theta):
    params = [p for p in net.parameters() if p.requires_grad]
    norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm  # d2l's in-place scaling of the gradient


def epoch(net, batches):
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(net.parameters(), lr=1.0)
    state, total = None, 0.0
    for X, Y in batches:
        if state is None:
            state = torch.zeros(1, X.shape[0], HIDDEN)
        else:
            state.detach_()  # d2l's: cut the graph to the previous batch, in place
        y_hat, state = net(X, state)
        l = loss(y_hat, Y.T.reshape(-1).long()).mean()  # noqa: E741 - d2l's name
        updater.zero_grad()  # d2l's: zeros the gradients before backward
        l.backward()
        grad_clipping(net, 1)
        updater.step()
        total += float(l)
    return total


def recorded(net, batches):
    with rnn_autograd.record():
        return epoch(net, batches)


@pytest.fixture(scope="module")
def batches():
    g = torch.Generator().manual_seed(0)
    return [(torch.randint(0, VOCAB, (BATCH, STEPS), generator=g),) * 2 for _ in range(NUM_BATCHES)]


def test_recording_costs_at_most_a_ratio_printed_here(benchmark, batches, capsys):
    models = {"notebook (nn.RNN)": NotebookModel, "from scratch (per-step ops)": ScratchModel}
    runs = {"plain": epoch, "recorded": recorded}
    times = {(m, r, c): [] for m in models for r in runs for c in ("wall", "cpu")}
    results = {}

    def interleaved():
        for round_ in range(ROUNDS + 1):
            for m, make in models.items():
                for r, fn in runs.items():
                    torch.manual_seed(0)
                    net = make()
                    w0, c0 = time.perf_counter(), time.process_time()
                    results[m, r] = fn(net, batches)
                    w1, c1 = time.perf_counter(), time.process_time()
                    if round_ > 0:  # round 0 warms up caches and the allocator
                        times[m, r, "wall"].append(w1 - w0)
                        times[m, r, "cpu"].append(c1 - c0)

    benchmark.pedantic(interleaved, rounds=1, iterations=1)
    lines = [f"record() overhead, {ROUNDS} interleaved rounds of {NUM_BATCHES} batches:"]
    for m in models:
        assert results[m, "plain"] == results[m, "recorded"]  # the same losses, bit for bit
        med = {(r, c): statistics.median(times[m, r, c]) for r in runs for c in ("wall", "cpu")}
        wall = med["recorded", "wall"] / med["plain", "wall"]
        cpu = med["recorded", "cpu"] / med["plain", "cpu"]
        benchmark.extra_info[f"{m} ratio"] = wall
        lines.append(
            f"  {m + ':':30s} plain {med['plain', 'wall'] * 1e3:7.1f} ms, recorded"
            f" {med['recorded', 'wall'] * 1e3:7.1f} ms: {wall:.2f}x wall, {cpu:.2f}x CPU"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
