"""Files that appear whole or not at all: a command stopped halfway leaves no partial output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_file(path: Path, binary: bool = False) -> Iterator[IO[Any]]:
    """Write beside `path`, then rename over it once the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") if binary else partial.open("w", encoding="utf-8") as handle:
            yield handle
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
