"""`{{ slot }}` templates: the text of families, filled in per dilemma.

Double braces keep single braces free for regular expressions (`\\d{3}`) in evidence patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

SLOT = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


def slots_in(template: str) -> set[str]:
    return set(SLOT.findall(template))


def render(
    template: str, values: Mapping[str, str], escape: Callable[[str], str] | None = None
) -> str:
    """Fill every slot; a missing slot is a KeyError naming it (families are checked at load)."""
    if "{{" not in template:
        return template
    if escape is None:
        return SLOT.sub(lambda m: values[m.group(1)], template)
    return SLOT.sub(lambda m: escape(values[m.group(1)]), template)
