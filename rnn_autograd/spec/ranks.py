"""Cases that run on two real processes: a gloo process group on 127.0.0.1, shared by all of them.

A case declared with ``ranks=2`` (the ``ddp`` family) is a function of ``(rank, world_size)``:
what each process of a DistributedDataParallel script runs. ``on_ranks(func)`` runs it on both
ranks at once (it is sent by name: a top-level function of an importable module) and returns
their return values, rank 0's first; ``run_case`` takes rank 0's as the observation (a case
gathers what it compares across ranks itself, with ``torch.distributed``). Starting Python,
importing torch and joining a gloo group costs seconds per process, so the two worker processes
start once, on the first such case, and serve every case after it; they stop when the
interpreter exits (or on ``shutdown()``).

Bounded and clean:

- every wait has a deadline (``TIMEOUT`` seconds per task, ``START_TIMEOUT`` to start); past it
  both workers' process groups are killed (each runs in a session of its own) and the case raises
  ``TimeoutError``; the next case starts fresh workers;
- the workers reach the parent over a ``multiprocessing.connection`` socket on 127.0.0.1 with a
  random key; the gloo store and gloo's own sockets are bound to the loopback interface too;
- a worker that raises sends the exception's type and message back; ``on_ranks`` raises the
  same type with rank 0's message (the message torch wrote, so a case can declare its fragment);
  warnings a rank emits come back too and are emitted again by ``on_ranks``, once each.

Each task runs seeded (``torch.manual_seed(0)``) with one intra-op thread, so both ranks build
the same model and observations are exact. A case keeps its two ranks symmetric: if only one
rank raised inside a collective's reach, the other would wait for it until the deadline.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from datetime import timedelta
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

__all__ = ["START_TIMEOUT", "TIMEOUT", "WORLD_SIZE", "on_ranks", "shutdown"]

WORLD_SIZE = 2
START_TIMEOUT = 60.0  # seconds for both workers to import torch and join the group
TIMEOUT = 30.0  # seconds for one case on both ranks
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class _Pool:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.conns: list[Connection] = []

    def start(self) -> None:
        key = secrets.token_bytes(16)
        with Listener(("127.0.0.1", 0), authkey=key) as listener:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    [str(_PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
                "GLOO_SOCKET_IFNAME": loopback_interface(),
                "RNN_AUTOGRAD_RANKS_KEY": key.hex(),
                "RNN_AUTOGRAD_RANKS_ADDRESS": f"{listener.address[0]}:{listener.address[1]}",
                "RNN_AUTOGRAD_RANKS_STORE_PORT": str(free_port()),
            }
            for rank in range(WORLD_SIZE):
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", f"from {__name__} import _serve; _serve({rank})"],
                        env=env,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,  # its own process group: killed as one
                    )
                )
            by_rank = self._accept(listener)
            self.conns = [by_rank[r] for r in range(WORLD_SIZE)]
        self._collect(time.monotonic() + START_TIMEOUT, "joining the gloo process group")

    def _accept(self, listener: Listener) -> dict[int, Connection]:
        # accept() takes no timeout: it runs in a thread that is given until the deadline,
        # while the workers are watched (one that dies early ends the wait at once)
        by_rank: dict[int, Connection] = {}

        def accept() -> None:
            try:
                while len(by_rank) < WORLD_SIZE:
                    conn = listener.accept()
                    by_rank[conn.recv()] = conn
            except (OSError, EOFError, AuthenticationError):
                pass

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while thread.is_alive() and time.monotonic() < deadline:
            if any(proc.poll() is not None for proc in self.procs):
                break
            thread.join(0.05)
        if len(by_rank) < WORLD_SIZE:
            self.kill()
            raise TimeoutError(
                f"the {WORLD_SIZE} ddp workers did not start within {START_TIMEOUT:g} s"
            )
        return by_rank

    def run(self, worker: Callable[..., Any]) -> list[Any]:
        if any(proc.poll() is not None for proc in self.procs):
            self.kill()  # a worker that ended since the last case: start both afresh
        if not self.conns:
            self.start()
        for conn in self.conns:
            conn.send_bytes(pickle.dumps((worker.__module__, worker.__qualname__)))
        return self._collect(time.monotonic() + TIMEOUT, worker.__qualname__)

    def _collect(self, deadline: float, what: str) -> list[Any]:
        replies = []
        for rank, conn in enumerate(self.conns):
            if not conn.poll(max(deadline - time.monotonic(), 0)):
                self.kill()
                raise TimeoutError(f"rank {rank} gave no answer within the deadline ({what})")
            try:
                replies.append(pickle.loads(conn.recv_bytes()))
            except EOFError:
                self.kill()
                raise RuntimeError(f"rank {rank} died ({what})") from None
        seen = set()
        for _, _, caught in replies:
            for category, message in caught:
                if (category, message) not in seen:  # both ranks warn alike: once is enough
                    seen.add((category, message))
                    warnings.warn(message, _warning_type(*category), stacklevel=3)
        for status, value, _ in replies:
            if status == "raised":
                raise _exception(*value)
        return [value for _, value, _ in replies]

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs, self.conns = [], []

    def stop(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):  # a worker already gone
                conn.send_bytes(pickle.dumps(None))
        deadline = time.monotonic() + 5
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):  # killed below
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        self.kill()


def _named(module: str, name: str) -> Any:
    try:
        found: Any = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
        return found
    except (ImportError, AttributeError):
        return None


def _exception(module: str, name: str, message: str) -> Exception:
    """The exception a rank raised, rebuilt here: same type and message (else RuntimeError)."""
    found = _named(module, name)
    if isinstance(found, type) and issubclass(found, Exception):
        try:
            return found(message)
        except Exception:  # a type whose constructor wants more than a message
            pass
    return RuntimeError(f"{module}.{name}: {message}")


def _warning_type(module: str, name: str) -> type[Warning]:
    found = _named(module, name)
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


_POOL = _Pool()
atexit.register(_POOL.stop)


def on_ranks(worker: Callable[[int, int], Any]) -> list[Any]:
    """Run ``worker(rank, world_size)`` on both ranks; their return values, rank 0's first.

    ``worker`` must be a top-level function of an importable module (it is sent by name; a
    ``@case`` function is). An exception on either rank is raised here, as the same type, with
    rank 0's message where rank 0 raised.
    """
    return _POOL.run(worker)


def shutdown() -> None:
    """Stop the workers now (they stop at exit anyway); the next case starts new ones."""
    _POOL.stop()


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_interface() -> str:
    """The loopback interface's name (``lo`` on Linux, ``lo0`` on macOS), for gloo's sockets."""
    names = [name for _, name in socket.if_nameindex()]
    return next((n for n in names if n in ("lo", "lo0")), names[0] if names else "lo")


def _serve(rank: int) -> None:
    """A worker: join the group, then run tasks until told to stop or the parent goes away."""
    import torch
    import torch.distributed as dist

    host, port = os.environ["RNN_AUTOGRAD_RANKS_ADDRESS"].rsplit(":", 1)
    conn = Client((host, int(port)), authkey=bytes.fromhex(os.environ["RNN_AUTOGRAD_RANKS_KEY"]))
    conn.send(rank)
    torch.set_num_threads(1)
    store = dist.TCPStore(
        "127.0.0.1",
        int(os.environ["RNN_AUTOGRAD_RANKS_STORE_PORT"]),
        WORLD_SIZE,
        is_master=rank == 0,
        timeout=timedelta(seconds=START_TIMEOUT),
    )
    # a collective that waits longer than a task may is an error, not a hang
    dist.init_process_group(
        "gloo", store=store, rank=rank, world_size=WORLD_SIZE, timeout=timedelta(seconds=TIMEOUT)
    )
    conn.send_bytes(pickle.dumps(("ok", None, [])))
    try:
        while True:
            try:
                task = pickle.loads(conn.recv_bytes())
            except EOFError:  # the parent is gone
                break
            if task is None:
                break
            module, qualname = task
            torch.manual_seed(0)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    worker = _named(module, qualname)
                    status, value = "ok", worker(rank, WORLD_SIZE)
                except Exception as exc:  # sent back: the exception is the observation
                    status = "raised"
                    value = (type(exc).__module__, type(exc).__qualname__, str(exc))
            sent = [
                ((w.category.__module__, w.category.__qualname__), str(w.message)) for w in caught
            ]
            conn.send_bytes(pickle.dumps((status, value, sent)))
    finally:
        dist.destroy_process_group()
