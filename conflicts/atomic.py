"""Files that appear whole or not at all: a command stopped halfway leaves no partial output.

The partial file is named for the process writing it (`.NAME.PID.partial`, beside the output), so
one left by a killed process is recognised, and removed, by the next command writing there."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from glob import escape
from pathlib import Path
from typing import IO, Any

from conflicts.errors import OutputError


@contextmanager
def atomic_file(path: Path, binary: bool = False, buffering: int = -1) -> Iterator[IO[Any]]:
    """Write beside `path`, then rename over it once the block ends without an error.

    `path` must be a regular file or not exist yet: a device or a pipe would be replaced by a
    file. A new file gets the usual permissions (umask), a replaced one keeps its own. A write
    that fails (a full disk, a read-only folder) is an OutputError, with nothing written."""
    mode = existing_mode(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep(path)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        if mode is not None:
            os.fchmod(fd, mode)
        encoding = None if binary else "utf-8"
        with os.fdopen(fd, "wb" if binary else "w", buffering, encoding) as handle:
            yield handle
        partial.replace(path)
    except OSError as exc:
        raise OutputError(
            f"cannot write: {exc.strerror or exc}; nothing was written", file=str(path)
        ) from None
    finally:
        partial.unlink(missing_ok=True)


def existing_mode(path: Path) -> int | None:
    """The permissions of the file `path` replaces, None for a new one; anything but a regular
    file is refused."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", file=str(path)) from None
    if stat.S_ISDIR(found.st_mode):
        raise OutputError("is a folder; give a file name", file=str(path))
    if not stat.S_ISREG(found.st_mode):
        raise OutputError(
            "not a regular file (a device, a pipe or a socket): -o writes files, and would"
            " replace it",
            file=str(path),
        )
    return stat.S_IMODE(found.st_mode)


def sweep(path: Path) -> None:
    """Remove the partial files that processes no longer running left beside `path`."""
    for partial in path.parent.glob(f".{escape(path.name)}.*.partial"):
        pid = partial.name[len(path.name) + 2 : -len(".partial")]
        if pid.isdigit() and not running(int(pid)):
            partial.unlink(missing_ok=True)


def running(pid: int) -> bool:
    """Whether a process of this machine runs under `pid`: what a file or a lease named for
    its process (`conflicts.store.leases`) needs to know to be left alone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
