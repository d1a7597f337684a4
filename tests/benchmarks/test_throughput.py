"""Training throughput: our loop against the classic one, same model, same data, one run.

The classic loop is the notebook's loop as d2l's ``train_epoch_ch8`` runs it: ``state.detach_()``
on the carried state every batch, the one-hot ``RNNModel`` over ``nn.RNN``, the hand-written
``grad_clipping`` that computes the norm and compares it in Python, and the loss accumulated as
a Python float every batch. Ours is ``rnn_autograd.pipeline.training.train`` with the ``detach`` strategy:
the same model and arithmetic (the fused path: an embedding lookup for one-hot times ``W_ih``,
one product for ``dW_hh``), ``clip_grad_norm_(foreach=True)``, metrics summed on the device.

Model and data as the issue fixes them: ``nn.RNN``, vocabulary 28, hidden 256, batch 32,
35 steps, sequential batches of *The Time Machine* (or, where it is absent, a synthetic stream of
28 tokens). Run with::

    pytest tests/benchmarks/test_throughput.py --benchmark-only

pytest-benchmark times each loop (``benchmark.pedantic`` with a fresh model per round); the last
test interleaves the two loops round by round, so that a machine whose load drifts slows both
alike, and prints the ratio of medians, by wall clock and by CPU time, with the spread of the
per-round ratios. ``RNN_AUTOGRAD_BENCH_THREADS`` sets torch's threads (default 1: on a shared
CPU a second thread mostly waits), ``RNN_AUTOGRAD_BENCH_ROUNDS`` the interleaved rounds
(default 11). No speed is asserted.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnn_autograd.pipeline.corpus import load_char_corpus
from rnn_autograd.pipeline.data import sequential_batches
from rnn_autograd.pipeline.model import RNNModel
from rnn_autograd.pipeline.training import train

VOCAB, HIDDEN, BATCH, STEPS, NUM_BATCHES = 28, 256, 32, 35, 20
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "timemachine.txt"
THREADS = int(os.environ.get("RNN_AUTOGRAD_BENCH_THREADS", "1"))
ROUNDS = int(os.environ.get("RNN_AUTOGRAD_BENCH_ROUNDS", "11"))
MEDIANS: dict[str, float] = {}

# d2l's Accumulator reads the loss with float() while it still requires grad; torch warns about
# that, and the warning is the classic loop's own, kept as it is (pytest turns warnings to errors)
pytestmark = pytest.mark.filterwarnings(
    "ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning"
)


class NotebookRNNModel(nn.Module):
    """The notebook's model (In [408]) for a unidirectional layer."""

    def __init__(self, rnn_layer, vocab_size):
        super().__init__()
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.num_hiddens = self.rnn.hidden_size
        self.linear = nn.Linear(self.num_hiddens, self.vocab_size)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size).to(torch.float32)
        Y, state = self.rnn(X, state)
        return self.linear(Y.reshape((-1, Y.shape[-1]))), state

    def begin_state(self, device, batch_size=1):
        return torch.zeros((self.rnn.num_layers, batch_size, self.num_hiddens), device=device)


def grad_clipping(net, theta):
    """d2l's gradient clipping, as written there."""
    params = [p for p in net.parameters() if p.requires_grad]
    norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
    if norm > theta:  # a Python comparison: the host waits for the norm
        for param in params:
            param.grad[:] *= theta / norm  # d2l's in-place scaling of the gradient


def classic_epoch(net, batches, lr=1.0):
    """d2l's ``train_epoch_ch8`` (sequential batches), with SGD as ``updater``."""
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(net.parameters(), lr=lr)
    state, total, count = None, 0.0, 0
    for X, Y in batches:
        if state is None:
            state = net.begin_state(batch_size=X.shape[0], device="cpu")
        else:
            state.detach_()  # d2l's: cut the graph to the previous batch, in place
        y = Y.T.reshape(-1)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()  # noqa: E741 - d2l's name
        updater.zero_grad()  # d2l's: zeros the gradients in place before backward
        l.backward()
        grad_clipping(net, 1)
        updater.step()
        total += float(l * y.numel())  # d2l's Accumulator: a Python float every batch
        count += y.numel()
    return total / count


def our_epoch(model, batches, lr=1.0):
    return train(model, batches, "detach", epochs=1, lr=lr, clip=1.0, device="cpu").perplexity


def _corpus_ids() -> list[int]:
    if CORPUS.exists():
        return load_char_corpus(CORPUS).ids
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, VOCAB, (BATCH * STEPS * NUM_BATCHES + 1,), generator=g).tolist()


@pytest.fixture(scope="module")
def batches():
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    stream = sequential_batches(_corpus_ids(), BATCH, STEPS)
    chosen = [b for _, b in zip(range(NUM_BATCHES), stream, strict=False)]
    yield chosen
    torch.set_num_threads(threads)


def _classic_model():
    torch.manual_seed(0)
    return NotebookRNNModel(nn.RNN(VOCAB, HIDDEN), VOCAB)


def _our_model():
    torch.manual_seed(0)
    return RNNModel(VOCAB, HIDDEN)


def _bench(benchmark, name, fn, make_model, batches):
    benchmark.group = "throughput: one epoch of 20 batches (32 x 35), nn.RNN 28 -> 256"
    benchmark.extra_info["tokens"] = NUM_BATCHES * BATCH * STEPS
    benchmark.extra_info["threads"] = torch.get_num_threads()
    benchmark.pedantic(fn, setup=lambda: ((make_model(), batches), {}), rounds=7, warmup_rounds=1)
    MEDIANS[name] = benchmark.stats.stats.median
    benchmark.extra_info["tokens_per_s"] = NUM_BATCHES * BATCH * STEPS / MEDIANS[name]


def test_classic_loop(benchmark, batches):
    _bench(benchmark, "classic", classic_epoch, _classic_model, batches)


def test_our_loop(benchmark, batches):
    _bench(benchmark, "ours", our_epoch, _our_model, batches)


def test_ratio_of_medians_interleaved_round_by_round(benchmark, batches, capsys):
    """Both loops alternately, round by round; prints each median and their ratio.

    After one warm-up round (not counted), each of ``ROUNDS`` rounds runs every loop once on a
    fresh model. Each run is timed twice: wall clock, and the process's CPU time, which leaves
    out the time the process waited for a core (other work on a shared machine), so that ratio
    is the steadier one there. Printed: the ratio of medians, the ratio of the fastest runs
    (the least disturbed by other work), and the spread of the per-round ratios.
    """
    loops = {
        "classic": (classic_epoch, _classic_model),
        "ours": (our_epoch, _our_model),
        # where the gain comes from: our model in the classic loop
        "classic loop, our model": (classic_epoch, _our_model),
    }
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    times = {(c, name): [] for c in clocks for name in loops}

    def interleaved():
        for round_ in range(ROUNDS + 1):
            for name, (fn, make) in loops.items():
                model = make()
                w0, c0 = time.perf_counter(), time.process_time()
                fn(model, batches)
                w1, c1 = time.perf_counter(), time.process_time()
                if round_ > 0:  # round 0 warms up caches and the allocator
                    times["wall", name].append(w1 - w0)
                    times["cpu", name].append(c1 - c0)

    benchmark.pedantic(interleaved, rounds=1, iterations=1)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = {c: med[c, "classic"] / med[c, "ours"] for c in clocks}
    spread = {
        c: sorted(a / b for a, b in zip(times[c, "classic"], times[c, "ours"], strict=True))
        for c in clocks
    }
    benchmark.extra_info.update(
        {"classic_median_s": med["wall", "classic"], "ours_median_s": med["wall", "ours"]}
    )
    benchmark.extra_info["throughput_ratio"] = ratio["wall"]
    benchmark.extra_info["throughput_ratio_cpu_time"] = ratio["cpu"]
    lines = [
        f"{ROUNDS} interleaved rounds, medians per epoch of {NUM_BATCHES} batches (wall | CPU):",
        *(
            f"  {name + ':':25s} {med['wall', name] * 1e3:6.1f} ms | {med['cpu', name] * 1e3:6.1f} ms"
            for name in loops
        ),
        *(
            f"throughput ratio (ours / classic), {c}: {ratio[c]:.2f}x (of the fastest runs: "
            f"{min(times[c, 'classic']) / min(times[c, 'ours']):.2f}x); per-round ratios "
            f"min {spread[c][0]:.2f}, median {statistics.median(spread[c]):.2f}, "
            f"max {spread[c][-1]:.2f}"
            for c in clocks
        ),
        f"({torch.get_num_threads()} thread(s), torch {torch.__version__})",
    ]
    if len(MEDIANS) == 2:
        lines.append(
            f"throughput ratio from the two benchmarks above: "
            f"{MEDIANS['classic'] / MEDIANS['ours']:.2f}x"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))


@pytest.mark.skipif(not os.environ.get("RNN_AUTOGRAD_PROFILE"), reason="RNN_AUTOGRAD_PROFILE=1")
def test_profile_of_both_loops(benchmark, batches, capsys):
    """Where the time goes: torch.profiler's top operators for each loop."""
    from torch.profiler import profile

    tables = {}

    def profiled():
        for name, fn, make in [
            ("classic", classic_epoch, _classic_model),
            ("ours", our_epoch, _our_model),
        ]:
            model = make()
            with profile() as prof:
                fn(model, batches)
            tables[name] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)

    benchmark.pedantic(profiled, rounds=1, iterations=1)
    with capsys.disabled():
        for name, table in tables.items():
            print(f"\n{name} loop:\n{table}")
