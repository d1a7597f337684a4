"""Where outputs go: folders and files checked before any work, JSON that is always valid, and a
lock so that one run at a time writes into a folder.

``check_output_dir`` and ``check_output_file`` find out *before* training or benchmarking
whether the outputs can be written (not a file where a folder is wanted, not below a file, not a
name too long, a folder one can create files in), so a mistake costs one line, not an epoch.
``write_json`` writes ``allow_nan=False`` JSON: a non-finite number becomes ``null`` and its
place is listed under ``"non_finite"`` with the value it had. ``RunLock`` is a lock file in the
run folder (``fcntl.flock`` where there is one, else ``O_EXCL`` with the owner's PID).
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import UsageError

__all__ = [
    "RunLock",
    "check_output_dir",
    "check_output_file",
    "json_safe",
    "pid_alive",
    "write_json",
]

LOCK_NAME = ".rnn-autograd.lock"


def _exists(p: Path) -> bool:
    try:
        os.lstat(p)
    except OSError:  # missing, or not reachable (a name too long, a file on the way)
        return False
    return True


def _nearest_existing(path: Path) -> Path:
    p = path
    while not _exists(p) and p.parent != p:
        p = p.parent
    return p


def _check_names(path: Path, option: str) -> None:
    try:
        name_max = os.pathconf(".", "PC_NAME_MAX")
        path_max = os.pathconf(".", "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no such limit
        name_max, path_max = 255, 4096
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > name_max:
            raise UsageError(
                f"{option}: the name {part[:20]!r}... is {size} bytes long; this file system "
                f"allows at most {name_max}: give a shorter name"
            )
    if len(os.fsencode(str(path.absolute()))) >= path_max:
        raise UsageError(
            f"{option}: the path is longer than {path_max - 1} bytes: give a shorter one"
        )


def _check_link(path: Path, option: str) -> None:
    if path.is_symlink() and not path.exists():
        raise UsageError(
            f"{option} {str(path)!r} is a link to {os.readlink(path)}, which does not exist; "
            f"create that or give another path"
        )


def _probe(folder: Path, option: str, shown: Path) -> None:
    """Create and remove a file in ``folder``: the one test that also holds for root, /proc, a
    read-only mount and a full disk's directory table."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".rnn-autograd-probe.", dir=folder)
    except OSError as exc:
        raise UsageError(
            f"{option} {str(shown)!r}: cannot create files in {folder} "
            f"({os.strerror(exc.errno) if exc.errno else exc}); choose a folder you can write to"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """The folder ``path`` for outputs, checked: it is, or can be created as, a folder one can
    write in. Creates nothing. A ``UsageError`` naming ``option`` says what is wrong."""
    if not isinstance(path, str | os.PathLike):
        raise UsageError(f"{option} must be a folder path; got {type(path).__name__}")
    if str(path) == "":
        raise UsageError(f"{option} is empty; give a folder, e.g. {option} runs/seed")
    out = Path(path)
    _check_names(out, option)
    _check_link(out, option)
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"{option} {str(out)!r} is a file, not a folder; give a folder (it is created if missing)"
        )
    anchor = _nearest_existing(out.absolute())
    if not anchor.is_dir():
        raise UsageError(
            f"{option} {str(out)!r} lies below {anchor}, which is a file; give a folder path"
        )
    _probe(anchor, option, out)
    return out


def check_output_file(
    path: str | os.PathLike, option: str = "-o", suffixes: tuple[str, ...] = ()
) -> Path:
    """The file ``path`` for an output, checked: a name with one of ``suffixes``, in a folder
    that exists and that one can write in, and not a folder itself. Creates nothing."""
    if not isinstance(path, str | os.PathLike):
        raise UsageError(f"{option} must be a file path; got {type(path).__name__}")
    if str(path) == "":
        raise UsageError(f"{option} is empty; give a file name, e.g. {option} graph.svg")
    out = Path(path)
    _check_names(out, option)
    _check_link(out, option)
    if suffixes and out.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {str(out)!r}: give a file name ending in {', '.join(suffixes)}")
    if out.is_dir():
        raise UsageError(f"{option} {str(out)!r} is a folder; give a file name inside it")
    if out.exists() and not out.is_file():
        raise UsageError(f"{option} {str(out)!r} is not a regular file; give a file name")
    folder = out.absolute().parent
    if not folder.exists():
        anchor = _nearest_existing(folder)
        if not anchor.is_dir():
            raise UsageError(
                f"{option} {str(out)!r} lies below {anchor}, which is a file; give a path in a folder"
            )
        raise UsageError(
            f"{option} {str(out)!r}: the folder {folder} does not exist; create it first"
        )
    if not folder.is_dir():
        raise UsageError(
            f"{option} {str(out)!r} lies below {folder}, which is a file; give a path in a folder"
        )
    _probe(folder, option, out)
    return out


def json_safe(data: Any) -> tuple[Any, dict[str, str]]:
    """``data`` with every non-finite float replaced by None, and where each one was
    (``"epochs.2.perplexity": "inf"``)."""
    found: dict[str, str] = {}

    def walk(x: Any, where: str) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            found[where] = repr(x)
            return None
        if isinstance(x, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [walk(v, f"{where}.{i}" if where else str(i)) for i, v in enumerate(x)]
        return x

    return walk(data, ""), found


def write_json(path: str | os.PathLike, data: dict, indent: int = 2, default=None) -> Path:
    """Valid JSON always: non-finite numbers become null, listed under ``"non_finite"``."""
    safe, found = json_safe(data)
    if found:
        safe["non_finite"] = {
            "reason": "JSON has no inf or nan: these values were not finite and are written as null",
            "values": found,
        }
    path = Path(path)
    text = json.dumps(safe, indent=indent, allow_nan=False, default=default) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


class RunLock:
    """One writer per run folder: ``with RunLock(folder): ...``.

    The lock file holds the owner's PID. With ``fcntl.flock`` the kernel drops the lock when
    the owner dies, so a leftover file is never a stale lock; without it (``O_EXCL``), a file
    whose PID is no longer running is stale and taken over. Released (and removed) on exit.
    """

    def __init__(self, folder: str | os.PathLike, option: str = "--out"):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.option = option
        self._fd: int | None = None

    def _refuse(self, pid: str) -> UsageError:
        who = f"process {pid}" if pid else "another process"
        return UsageError(
            f"{self.option} {str(self.folder)!r} is in use: {who} is training into it "
            f"(lock {self.path}); wait for it to finish or choose another {self.option}"
        )

    def acquire(self) -> RunLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows: O_EXCL plus the PID
            return self._acquire_excl()
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise self._refuse(self._read_pid()) from None
                raise
            # the file may have been removed by its last owner between our open and flock:
            # then we hold a lock on a dead inode; open the path again
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def _acquire_excl(self) -> RunLock:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = self._read_pid()
                if pid.isdigit() and pid_alive(int(pid)):
                    raise self._refuse(pid) from None
                self.path.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return self
        raise self._refuse(self._read_pid())

    def _read_pid(self) -> str:
        try:
            return self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return ""

    def release(self) -> None:
        if self._fd is None:
            return
        # unlink before close: while we hold the lock nobody else owns the file
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
