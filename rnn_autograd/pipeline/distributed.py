"""Training on several processes: DistributedDataParallel over gloo, on the CPU, rows per rank.

Two ways in, one way of training:

- ``launch(fn, args, nproc=N)`` starts N processes on this machine (``rnn-autograd train
  --nproc N``): each runs ``fn(args)`` with the environment torchrun would give it (``RANK``,
  ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR=127.0.0.1``, ``MASTER_PORT``: a free port found
  by binding port 0, or the one asked for), and the launcher watches them: the first rank that
  fails stops the others, and the exit status says so;
- under ``torchrun --nproc-per-node N -m rnn_autograd train ...`` that environment is already set.

In either case ``join()`` joins the gloo process group and ``current()`` then says which rank
this is. ``train`` (``rnn_autograd.pipeline.training``) asks ``current()``: under a process group
it wraps the model in DDP (``replicate``), gives each rank its share of every batch's rows
(``rows_of_rank``: rank ``r`` of ``N`` takes rows ``r * B/N .. (r + 1) * B/N - 1``, so under
sequential batching each rank reads contiguous rows that continue from batch to batch, and its
carried state means what it means in one process), sums the metrics over the ranks
(``reduce_tally``) and lets rank 0 alone write checkpoints. DDP averages the gradients over the
ranks, and each rank's loss is the mean over its B/N rows, so the update is the one a single
process makes with the mean over all B rows.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..errors import UsageError

__all__ = [
    "Ranks",
    "check_world",
    "current",
    "free_port",
    "join",
    "launch",
    "launched",
    "reduce_tally",
    "replicate",
    "rows_of_rank",
]

TIMEOUT = timedelta(minutes=10)  # a collective waiting longer than this is an error, not a hang
GRACE = 3.0  # seconds a rank is given to stop after SIGTERM before SIGKILL


@dataclass(frozen=True)
class Ranks:
    rank: int
    world_size: int

    @property
    def main(self) -> bool:
        """Rank 0: the one that prints, shows progress and writes checkpoints."""
        return self.rank == 0


def current() -> Ranks | None:
    """This process's rank and the world size under a process group; None in one process."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return Ranks(dist.get_rank(), dist.get_world_size())
    return None


def launched() -> bool:
    """Whether this process is one rank of several (torchrun's or ``launch``'s environment)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def check_world(nproc: int, rows: int) -> None:
    """Bad numbers of processes for a batch of ``rows`` rows: a UsageError naming what would do."""
    if nproc < 1:
        raise UsageError(f"--nproc must be >= 1; got {nproc}")
    if nproc > rows:
        raise UsageError(
            f"--nproc {nproc}: more processes than rows (batch size {rows}); each rank needs at "
            f"least one row of every batch: use --nproc <= {rows} or a larger --batch-size"
        )
    if rows % nproc:
        raise UsageError(
            f"--batch-size {rows} does not split evenly over --nproc {nproc}; each rank takes "
            f"the same number of rows: use a batch size that is a multiple of {nproc}"
        )


def join(rows: int, device: torch.device | str = "cpu") -> Ranks | None:
    """Join the gloo process group the environment describes (None when there is none).

    Checks that ``rows`` (the batch size) splits over the ranks and that ``device`` is the CPU
    (gloo's); ranks other than 0 print nothing to stdout (their lines would repeat rank 0's).
    """
    if not launched():
        return None
    world, rank = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    check_world(world, rows)
    if torch.device(device).type != "cpu":
        raise UsageError(
            f"several processes train on the CPU (gloo); got --device {device}: use --device cpu"
        )
    if not dist.is_initialized():
        dist.init_process_group("gloo", init_method="env://", timeout=TIMEOUT)
    if rank != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    return current()


def replicate(model: torch.nn.Module) -> DistributedDataParallel:
    """``model`` under DDP (its parameters broadcast from rank 0 now); ``begin_state`` kept."""
    return _Replica(model)


class _Replica(DistributedDataParallel):
    """DDP that passes ``begin_state`` through: the strategies ask the model for a first state."""

    def begin_state(self, *args, **kwargs):
        return self.module.begin_state(*args, **kwargs)


class _RowsOfRank:
    def __init__(self, batches: Iterable, ranks: Ranks):
        self.batches, self.ranks = batches, ranks

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        r, n = self.ranks.rank, self.ranks.world_size
        for X, Y in self.batches:
            if X.shape[0] % n:
                raise UsageError(f"a batch of {X.shape[0]} rows does not split over {n} ranks")
            b = X.shape[0] // n  # (batch, steps) -> this rank's (b, steps)
            yield X[r * b : (r + 1) * b], Y[r * b : (r + 1) * b]


def rows_of_rank(batches: Iterable, ranks: Ranks) -> Iterable:
    """Each batch's rows of this rank: rows ``rank * b .. (rank + 1) * b - 1``, ``b = B / N``."""
    return _RowsOfRank(batches, ranks)


def reduce_tally(tally: Any) -> None:
    """Sum an epoch's ``Tally`` (``rnn_autograd.pipeline.metrics``) over the ranks, in place.

    Loss sums, correct predictions and tokens add up; each batch's loss becomes its mean over
    the ranks, so a non-finite loss on any rank is non-finite on all and every rank stops alike.
    """
    sums = torch.stack(
        [tally.loss, tally.correct.double(), torch.tensor(float(tally.tokens), dtype=torch.float64)]
    )
    dist.all_reduce(sums)  # in place: the sums over all ranks
    tally.loss, tally.correct, tally.tokens = sums[0], sums[1].long(), int(sums[2])
    if tally.batch_losses:
        losses = torch.stack([loss.double() for _, loss in tally.batch_losses])
        dist.all_reduce(losses)  # in place: the sum of each batch's loss over the ranks
        n = dist.get_world_size()
        tally.batch_losses = [
            (batch, loss / n) for (batch, _), loss in zip(tally.batch_losses, losses, strict=True)
        ]


def free_port(port: int = 0) -> int:
    """``port`` on 127.0.0.1 if it is free (0: one the system picks); in use: a UsageError."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UsageError(
                f"--port {port}: 127.0.0.1:{port} is not free ({exc.strerror}); pass another "
                f"port, or 0 to let the system choose one"
            ) from None
        return s.getsockname()[1]


def _loopback_interface() -> str:
    names = [name for _, name in socket.if_nameindex()]
    return next((n for n in names if n in ("lo", "lo0")), "lo")


def launch(
    fn: Callable[[Any], int], args: Any, *, nproc: int, port: int = 0, prog: str = "rnn-autograd"
) -> int:
    """Run ``fn(args)`` in ``nproc`` new processes (ranks) on 127.0.0.1; their exit status.

    ``fn`` and ``args`` are pickled (``fn`` by name: a top-level function). Rank 0's output is
    passed through as it comes; another rank's stderr only when that rank fails. The first rank
    to fail stops the others (SIGTERM, then SIGKILL after a grace period): a rank's own error
    (exit 1 or 2, its message printed) is returned as it is; a rank that died otherwise is one
    line here and exit status 2. Ctrl-C stops all of them.
    """
    master_port = free_port(port)
    payload = pickle.dumps((fn, args, prog))
    env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(master_port),
        "WORLD_SIZE": str(nproc),
        "LOCAL_WORLD_SIZE": str(nproc),
        # each rank its share of the cores (torchrun sets OMP_NUM_THREADS=1 instead)
        "OMP_NUM_THREADS": os.environ.get(
            "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc))
        ),
        "GLOO_SOCKET_IFNAME": os.environ.get("GLOO_SOCKET_IFNAME", _loopback_interface()),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [_package_root(), os.environ.get("PYTHONPATH")])
        ),
    }
    procs: list[subprocess.Popen] = []
    relays: list[threading.Thread] = []
    held: list[list[str]] = [[] for _ in range(nproc)]
    try:
        for rank in range(nproc):
            proc = subprocess.Popen(
                [sys.executable, "-c", f"from {__name__} import _rank_main; _rank_main()"],
                env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, stopped as one
            )
            proc.stdin.write(payload)
            proc.stdin.close()
            procs.append(proc)
            for stream, sink in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr)):
                show = rank == 0  # other ranks' lines are kept, shown only if that rank fails
                t = threading.Thread(
                    target=_relay, args=(stream, sink if show else None, held[rank]), daemon=True
                )
                t.start()
                relays.append(t)
        failed = _watch(procs)
    except KeyboardInterrupt:
        _stop(procs)
        raise
    _stop(procs)
    for t in relays:
        t.join(timeout=5)
    if failed is None:
        return 0
    code = procs[failed].returncode
    if failed != 0 and held[failed]:
        print(f"{prog}: rank {failed}: {held[failed][-1].rstrip()}", file=sys.stderr)
    if code in (1, 2):
        return code
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    raise UsageError(f"rank {failed} of {nproc} died ({how}); the other ranks were stopped")


def _watch(procs: list[subprocess.Popen]) -> int | None:
    """Wait for every rank; the first that fails (its index), or None when all exit 0."""
    running = set(range(len(procs)))
    while running:
        for r in sorted(running):
            code = procs[r].poll()
            if code is None:
                continue
            running.discard(r)
            if code != 0:
                # rank 0's message is the one shown: if it fails too, a moment later, prefer it
                with contextlib.suppress(subprocess.TimeoutExpired):
                    if r != 0 and procs[0].wait(timeout=0.5) != 0:
                        return 0
                return r
        time.sleep(0.05)
    return None


def _stop(procs: list[subprocess.Popen]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if p.poll() is None]
        for p in alive:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.killpg(p.pid, sig)
        deadline = time.monotonic() + GRACE
        for p in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL next
                p.wait(timeout=max(deadline - time.monotonic(), 0.05))


def _relay(stream, sink, kept: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        if sink is not None:
            sink.write(line)
            sink.flush()
        else:
            kept.append(line)
    stream.close()


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _exit_with_launcher(launcher: int) -> None:
    """A rank whose launcher is gone (killed, say) stops too, instead of training on alone."""
    while os.getppid() == launcher:
        time.sleep(0.5)
    os._exit(1)


def _rank_main() -> None:
    """One rank started by ``launch``: read ``(fn, args, prog)`` from stdin, run, exit."""
    fn, args, prog = pickle.loads(sys.stdin.buffer.read())
    command = getattr(args, "command", "")
    threading.Thread(target=_exit_with_launcher, args=(os.getppid(),), daemon=True).start()
    try:
        code = int(fn(args) or 0)
    except UsageError as exc:
        print(f"{prog} {command}: error: {exc}", file=sys.stderr)
        code = 2
    except dist.DistError as exc:  # a peer went away: one line, the launcher says the rest
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{prog} {command}: rank {os.environ['RANK']}: {first}", file=sys.stderr)
        code = 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    sys.stdout.flush()
    os._exit(code)  # no waiting on threads a dead peer left behind
