"""Input errors that carry where they came from, so the CLI can name file, line and field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Location = tuple[str | int, ...]


def format_field(loc: Sequence[str | int]) -> str:
    """Render a pydantic-style location as `authority[2].below`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def message_of(error: Mapping[str, Any]) -> str:
    """A pydantic error's message, without the "Value error, " a validator's own words get."""
    return str(error["msg"]).removeprefix("Value error, ")


class InputError(Exception):
    """Bad input from a researcher's file or command line: a one-line message, never a traceback."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        loc: Location = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.loc = tuple(loc)

    @property
    def field(self) -> str:
        return format_field(self.loc)

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        field = f"{self.field}: " if self.loc else ""
        return f"{where}{field}{self.message}"


class HierarchyError(InputError):
    """A principal graph that cannot stand: unknown principals, cycles, unknown presets."""
