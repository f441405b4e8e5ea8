"""The transcripts behind a report cell: a few of each label per model × principal, with their
evidence and the whole conversation, for a reader who wants to check the labels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conflicts.store import verdicts
from conflicts.store.database import Store
from conflicts.store.verdicts import VerdictEvidence


@dataclass(frozen=True)
class Sample:
    transcript_id: int
    model: str
    principal: str
    label: str
    dilemma_id: str
    family: str
    axes: dict[str, str]
    epoch: int
    evidence: VerdictEvidence
    prompt: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    final_answer: str
    reasoning: str | None
    stop_reason: str | None = None
    source: str | None = None  # an imported transcript's sample in its source (id and epoch)


def samples(
    store: Store, runs: Sequence[str], classifier: str, version: str, per_label: int = 5
) -> list[Sample]:
    """Up to `per_label` transcripts of each label per model × principal, the earliest first."""
    rows = verdicts.samples(store, runs, classifier, version, per_label)
    return [
        Sample(
            transcript_id=row[0],
            model=row[1],
            principal=row[2],
            label=row[3],
            evidence=row[4],
            dilemma_id=row[5],
            family=row[6],
            axes=json.loads(row[7]),
            epoch=row[8],
            prompt=json.loads(row[9] or "[]"),
            messages=json.loads(row[10]),
            final_answer=row[11],
            reasoning=row[12],
            stop_reason=row[13],
            source=row[14],
        )
        for row in rows
    ]
