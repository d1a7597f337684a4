"""The notebook (../shared/seed/notebook.txt) reproduced with rnn_autograd, then what it missed.

Part 1 runs the notebook's cells with the library: its data (runs of 5 consecutive integers),
its overlapping windows in batches of 50, its model, its loop that prints ``state.requires_grad``
before ``state.detach_()``, and its two predictions.

Part 2 asks what the carried state carries. Under the notebook's windows, row ``i`` of the next
batch starts ``batch_size`` tokens after row ``i`` of this one, not where it ended: the state
carries the past of an earlier window, ``batch_size - num_steps`` tokens back. With 50 (a
multiple of the run length 5) the position inside the run that the state tracks simply goes on;
with 48 it is off by 3 at every batch. A Bayes-optimal predictor that knows the gap loses
nothing either way (``rnn_autograd.bench.limits.gap_limit``), but the network has to learn the shift.
Under sequential partitioning the state carries the real past. Each configuration is trained
alike and its held-out perplexity is printed beside the best any model can reach.

    python examples/notebook.py           # a few minutes on a laptop CPU
    python examples/notebook.py --quick   # seconds: a smoke run for CI, too short to learn well
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from rnn_autograd.bench.limits import counting_limit, counting_source, gap_limit
from rnn_autograd.pipeline.data import counting_sequence, make_batches, window_batches
from rnn_autograd.pipeline.model import RNNModel
from rnn_autograd.pipeline.prediction import predict
from rnn_autograd.pipeline.state import parse_strategy
from rnn_autograd.pipeline.training import evaluate, lm_loss, train

NUM_STEPS, VOCAB = 20, 20  # the notebook's num_steps and num_classes


def notebook_part(hidden: int, epochs_more: int, seed: int) -> None:
    print("== Part 1: the notebook, cell by cell ==")
    seq = counting_sequence(num_runs=200, seed=seed)  # In [405]: 1000 tokens, seeded here
    batches = window_batches(seq, batch_size=50, num_steps=NUM_STEPS)
    X, Y = next(iter(batches))
    print(f"{len(seq)} tokens -> {len(batches)} batches of overlapping windows, X {tuple(X.shape)}")
    torch.manual_seed(seed)
    net = RNNModel(VOCAB, hidden)  # In [406]-[409]
    print(f"begin_state: {tuple(net.begin_state(50).shape)}")

    # In [411]: two epochs of SGD (lr 0.05), printing the flag before detach_() as it did
    updater = torch.optim.SGD(net.parameters(), lr=0.05)
    strategy = parse_strategy("detach-inplace")
    flags = []
    strategy.begin_epoch()  # once: the notebook made its state once, before both epochs
    for _ in range(2):
        for X, Y in batches:
            flags.append(False if strategy.state is None else strategy.state.requires_grad)
            strategy.train_batch(net, X, Y, lm_loss)  # detach_(), forward, loss, backward
            updater.step()
            updater.zero_grad(set_to_none=True)  # each batch's gradient starts from nothing
    print(f"state.requires_grad before detach_(), {len(flags)} batches: {_runs(flags)}")
    print("  (True from the second batch on: the state is the output of the previous batch's")
    print("   graph; detach_() cuts it so backward stops at this batch, see rnn-state/no-detach)")
    print(f"after the notebook's 2 epochs: predict('1 2 3', 3) -> {predict(net, [1, 2, 3], 3)}")

    # the notebook's later runs: train on (it set num_epochs, lr = 500, 1 but never used them)
    train(net, batches, "detach-inplace", epochs=epochs_more, lr=1.0, clip=1.0, device="cpu")
    print(f"after {epochs_more} more epochs (lr 1, clipped):")
    print(f"  predict('1 2 3', 3)  -> {predict(net, [1, 2, 3], 3)}")
    print(f"  predict('1 2 3', 10) -> {predict(net, [1, 2, 3], 10)}")
    print(f"  predict('9 10', 4)   -> {predict(net, [9, 10], 4)}  (tokens >= 10: '1 2 3' ids)")
    print("  (a run has 5 tokens: after '1 2 3 4 5' the next run starts anywhere in 0 .. 10, each")
    print("   with probability 1/11, so the sixth token is a guess for any model)")


def _runs(flags: list[bool]) -> str:
    out, i = [], 0
    while i < len(flags):
        j = i
        while j < len(flags) and flags[j] == flags[i]:
            j += 1
        out.append(f"{flags[i]}" + (f" x{j - i}" if j - i > 1 else ""))
        i = j
    return ", ".join(out)


def batching_part(hidden: int, epochs: int, seq_runs: int, eval_runs: int, seed: int) -> None:
    print("\n== Part 2: what a carried state carries, by batching ==")
    seq_train = counting_sequence(num_runs=seq_runs, seed=seed)
    # windows read every token num_steps times: a corpus 1/num_steps as long gives each epoch
    # about as many predicted tokens as sequential batches over the long one
    win_train = counting_sequence(num_runs=max(seq_runs // NUM_STEPS, 50), seed=seed)
    held = counting_sequence(num_runs=eval_runs, seed=seed + 1)
    carried = counting_limit(context="carried").perplexity
    fresh = counting_limit(context="fresh", num_steps=NUM_STEPS).perplexity
    configs = [
        ("windows", 50, "detach"),
        ("windows", 48, "detach"),
        ("windows", 50, "fresh"),
        ("sequential", 10, "fresh"),
        ("sequential", 10, "detach"),
    ]
    print(
        f"{'batching':<11} {'batch':>5}  {'strategy':<8} {'held-out ppl':>12} {'accuracy':>8}  best possible"
    )
    for kind, batch, spec in configs:
        tokens = win_train if kind == "windows" else seq_train
        torch.manual_seed(seed)
        model = RNNModel(VOCAB, hidden)
        train(
            model,
            make_batches(kind, tokens, batch, NUM_STEPS),
            spec,
            epochs=epochs,
            lr=0.01,
            lr_decay=0.6,
            optimizer="adam",
            device="cpu",
        )
        held_batches = make_batches(kind, held, batch, NUM_STEPS)
        ppl, acc = evaluate(model, held_batches, carry_state=parse_strategy(spec).carries_state)
        if kind == "sequential" and spec == "detach":
            row = len(held_batches) * NUM_STEPS
            best = counting_limit(context="fresh", num_steps=row).perplexity
            note = f"{best:.3f} (rows of {row} tokens from zeros; {carried:.3f} with endless past)"
        elif spec == "fresh":
            note = f"{fresh:.3f} (fresh state every {NUM_STEPS} tokens)"
        else:
            gap = batch - NUM_STEPS
            best = gap_limit(counting_source(), NUM_STEPS, gap, NUM_STEPS).perplexity
            note = f"{best:.3f} (its past: a window {gap} tokens earlier)"
        print(f"{kind:<11} {batch:>5}  {spec:<8} {ppl:>12.3f} {acc:>8.3f}  {note}")
    print(f"(windows train on a corpus 1/{NUM_STEPS} as long, for as many predictions per epoch:")
    print(" compare the windows rows with each other, the sequential rows with each other)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: runs in seconds (CI)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    # small models on a CPU that others share: a second intra-op thread mostly waits for the
    # first, and under load spinning threads make every step several times slower
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if args.quick:
        notebook_part(hidden=32, epochs_more=10, seed=args.seed)
        batching_part(hidden=32, epochs=8, seq_runs=2000, eval_runs=300, seed=args.seed)
    else:
        notebook_part(hidden=256, epochs_more=40, seed=args.seed)
        batching_part(hidden=128, epochs=6, seq_runs=10000, eval_runs=2000, seed=args.seed)
    print(f"\n({time.perf_counter() - t0:.0f} s, torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
