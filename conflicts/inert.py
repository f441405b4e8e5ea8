"""Text from models and their names made inert before it reaches a terminal.

An answer, a quote or a model name may carry escape sequences (ESC [ ... to clear the screen or
draw a fake answer over the real one, OSC 52 to write the reviewer's clipboard, OSC 0 to set the
window title), other control characters, or bidirectional overrides that reorder what is shown.
Rich passes ESC through, so every string that did not come from ihsim is shown through `inert`:
each such character becomes a visible escape (`\\x1b`, `\\u202e`), and the text is otherwise
unchanged. Line breaks and tabs are kept.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls; bidirectional embeddings, overrides and
# isolates; the line and paragraph separators
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """The text with every character that could steer a terminal shown as an escape."""
    return _UNSAFE.sub(_visible, text) if _UNSAFE.search(text) else text
