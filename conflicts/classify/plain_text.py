"""Model text as the rules read it: normalised once, and cut where the model invented a turn.

Real models write typographic apostrophes and quotes (’ “ ”), dashes (– —), non-breaking and
zero-width spaces, compatibility forms (ﬁ, full-width letters), and, through some servers, HTML
entities (&#39;, &amp;). A rule written with a straight apostrophe must still match them, so every
rule and detector reads text through `normalise`, and family patterns through
`normalise_pattern` (the same folding, no entity decoding: a pattern is a regex, not HTML).

Small models also write past the end of their own turn: a chat-template marker
(`<|im_start|>`, `<|eot_id|>`, `[INST]`, ...) or a role header on a line of its own ("User:")
followed by an invented next turn. What comes after it is not the model's answer, so `cut_turn`
ends the answer there and keeps what it cut, for the verdict's evidence.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

# Folded after NFKC (which already turns ellipses, ligatures, full-width and non-breaking forms
# into plain ones); zero-width characters are dropped.
# single quotes, primes and apostrophe-like accents; double quotes and guillemets; dashes and
# the minus sign; invisible characters
_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u02bc": "'",
        "\u0060": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2015": "-",  # horizontal bar
        "\u2212": "-",  # minus sign
        "\u00ad": None,  # soft hyphen
        "\u200b": None,  # zero-width space
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,  # word joiner
        "\ufeff": None,  # byte-order mark
    }
)
_SPACES = re.compile(r"[^\S\n]+")  # runs of spaces and tabs, not line breaks
_BLANK_LINES = re.compile(r"\n\s*\n\s*")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_FOLD)


@lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """Entities decoded (twice over, for text escaped twice), Unicode compatibility forms,
    typographic quotes and dashes folded to ASCII, spaces collapsed; line breaks kept (a role
    header is known by starting a line)."""
    if "&" in text:
        text = html.unescape(html.unescape(text))
    folded = text if text.isascii() else _fold(text)
    folded = _SPACES.sub(" ", folded)
    return _BLANK_LINES.sub("\n\n", folded).strip()


def normalise_pattern(pattern: str) -> str:
    """A family's regex folded as text is, so a pattern written with ’ matches ' too."""
    return pattern if pattern.isascii() else _fold(pattern)


# Where an invented turn starts: a chat template's special tokens, or a line that is only a role
# header (with a colon, or as a Markdown heading) after the answer began.
_MARKERS = (
    r"<\|im_start\|>",
    r"<\|im_end\|>",
    r"<\|eot_id\|>",
    r"<\|start_header_id\|>",
    r"<\|end_header_id\|>",
    r"<\|endoftext\|>",
    r"<\|end\|>",
    r"<\|(?:user|assistant|system)\|>",
    r"<start_of_turn>",
    r"<end_of_turn>",
    r"\[/?INST\]",
    r"</s>",
    r"<｜(?:User|Assistant)｜>",
)
_ROLES = r"(?:user|human|system|admin|administrator|assistant|operator|developer)"
_INVENTED = re.compile(
    "|".join(_MARKERS) + rf"|\n[ \t]*(?:#+[ \t]*)?\**{_ROLES}\**[ \t]*(?::|\n)",
    re.IGNORECASE,
)


def cut_turn(text: str) -> tuple[str, str | None]:
    """The answer up to an invented next turn, and what was cut (None when nothing was)."""
    match = _INVENTED.search(text)
    if match is None:
        return text, None
    start = match.start()
    if not text[:start].strip() and match.group(0).startswith("<"):
        # a template token before any answer (a stray <|im_start|>assistant): skip past it
        rest = text[match.end() :]
        rest = re.sub(rf"^[ \t]*{_ROLES}?[ \t]*\n?", "", rest, flags=re.IGNORECASE)
        kept, cut = cut_turn(rest)
        return kept, cut
    return text[:start].rstrip(), text[start:].strip()
