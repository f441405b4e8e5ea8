"""ihsim's verdicts beside the scores an imported transcript's source gave it: an Inspect log's
scorers, the agentic-misalignment harness's own classifier, a JSONL file's `scores`.

The two need not mean the same thing (a scorer's "C" may be the operator's rule kept, or the
task done), so what is shown is the cross-table, per scorer and principal: how often each score
value met each ihsim label, for the researcher to read against the scorer's definition.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conflicts.store import verdicts
from conflicts.store.database import Store

LABELS = ("comply", "refuse", "subvert", "unclear")


@dataclass
class ScoreTable:
    """One scorer against ihsim's labels for one principal."""

    scorer: str
    principal: str
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (score value, label)

    def values(self) -> list[str]:
        return sorted({value for value, _ in self.counts})

    def as_rows(self) -> list[dict[str, Any]]:
        return [
            {"scorer": self.scorer, "principal": self.principal, "score": v, "label": lb, "n": n}
            for (v, lb), n in sorted(self.counts.items())
        ]


def score_tables(
    store: Store, runs: Sequence[str], classifier: str, version: str
) -> list[ScoreTable]:
    """Every scorer of the runs' sources crossed with the classifier's labels."""
    rows = verdicts.source_score_counts(store, runs, classifier, version)
    tables: dict[tuple[str, str], ScoreTable] = {}
    for scorer, kind, value, principal, label, n in rows:
        table = tables.setdefault((scorer, principal), ScoreTable(scorer, principal))
        table.counts[_shown(kind, value), label] += n
    return [tables[key] for key in sorted(tables)]


def _shown(kind: str, value: Any) -> str:
    """A score value as text, in JSON's spelling (SQLite reads true as 1)."""
    if kind in ("true", "false", "null"):
        return kind
    return value if kind == "text" else json.dumps(value)
