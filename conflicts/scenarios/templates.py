"""`{{ slot }}` templates: the text of families, filled in per dilemma.

Double braces keep single braces free for regular expressions (`\\d{3}`) in evidence patterns.
A template is split once into literal text and slot names, so a fill is a join, not a regex pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

SLOT = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s*\}\}")
Escape = Callable[[str], str] | None


def slots_in(template: str) -> set[str]:
    return set(SLOT.findall(template))


class Template:
    """A template split into parts: even indexes are literal text, odd ones slot names."""

    __slots__ = ("escape", "names", "parts", "text")

    def __init__(self, text: str, escape: Escape = None) -> None:
        self.text = text
        self.parts = SLOT.split(text)
        self.names = tuple(dict.fromkeys(self.parts[1::2]))
        self.escape = escape

    def fill(self, values: Mapping[str, str]) -> str:
        """The filled text; a missing slot is a KeyError (families are checked at load)."""
        parts = self.parts.copy()
        escape = self.escape
        for index in range(1, len(parts), 2):
            value = values[parts[index]]
            parts[index] = escape(value) if escape else value
        return "".join(parts)


class Deferred(dict[str, str]):
    """Values that leave unknown slots in place for later (`{{ arg.path }}` at run time)."""

    def __missing__(self, name: str) -> str:
        return "{{ " + name + " }}"


@lru_cache(maxsize=8192)
def compiled(text: str, escape: Escape = None) -> Template:
    return Template(text, escape)


def render(text: str, values: Mapping[str, str], escape: Escape = None) -> str:
    """Fill every slot of `text` from `values`, escaping the values with `escape` if given."""
    if "{{" not in text:
        return text
    return compiled(text, escape).fill(values)
