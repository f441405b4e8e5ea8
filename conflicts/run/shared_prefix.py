"""The opening a family's system prompts share across a run's dilemmas (a deployment's long
operator policy, say), found so that Anthropic requests can put a cache breakpoint at its end:
every dilemma of the family then reads it from the cache, not only epochs and tool turns of one
dilemma. The prompt's text is unchanged; it is sent as two blocks, cut between words."""

from __future__ import annotations

import os
from collections.abc import Iterable

import orjson

from conflicts.store.database import RunInfo, Store

SAMPLE = 50  # dilemmas a family is sampled on; a dilemma its prefix does not open is sent whole
MIN_CHARS = 4096  # about the 1,024 tokens below which Anthropic caches nothing


def common_prefix(texts: list[str]) -> str | None:
    """The longest opening all texts share, cut after its last line break (else its last
    space: no word is split), if long enough to cache and shorter than each text (a prefix
    that is a whole prompt gains nothing apart)."""
    if len(texts) < 2:
        return None
    shared = os.path.commonprefix(texts)  # noqa: RUF071 - characters are what is wanted
    line = shared[: shared.rfind("\n") + 1]
    shared = line if len(line) >= MIN_CHARS else shared[: shared.rfind(" ") + 1]
    if len(shared) < MIN_CHARS or any(len(t) == len(shared) for t in texts):
        return None
    return shared


def family_prefixes(store: Store, run: RunInfo) -> dict[str, str]:
    """Per family of the run, the system prompt opening its sampled dilemmas share."""
    rows = store.db.execute(
        "SELECT family, body FROM (SELECT d.family, d.body, ROW_NUMBER() OVER"
        " (PARTITION BY d.family ORDER BY r.position) AS n FROM run_dilemmas r"
        " JOIN dilemmas d ON d.id = r.dilemma_id WHERE r.run_id = ?) WHERE n <= ?",
        (run.id, SAMPLE),
    ).fetchall()
    systems: dict[str, list[str]] = {}
    for family, body in rows:
        messages = orjson.loads(body)["messages"]
        text = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        systems.setdefault(family, []).append(text)
    found = {family: common_prefix(texts) for family, texts in systems.items()}
    return {family: prefix for family, prefix in found.items() if prefix}


def share_prefixes(store: Store, run: RunInfo, providers: Iterable[object]) -> None:
    """Tell the providers that place cache breakpoints (Anthropic's) the run's shared openings;
    the run's dilemmas are read only when one does."""
    placing = [p for p in providers if getattr(p, "prompt_cache", False)]
    if placing:
        prefixes = family_prefixes(store, run)
        for provider in placing:
            provider.shared = prefixes  # type: ignore[attr-defined]
