"""The transcripts behind a report cell: a few of each label per model × principal, with their
evidence and the whole conversation, for a reader who wants to check the labels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conflicts.store.database import Store


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
    evidence: dict[str, Any]
    prompt: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    final_answer: str
    reasoning: str | None
    stop_reason: str | None = None


def samples(
    store: Store, runs: Sequence[str], classifier: str, version: str, per_label: int = 5
) -> list[Sample]:
    """Up to `per_label` transcripts of each label per model × principal, the earliest first."""
    marks = ", ".join("?" * len(runs))
    rows = store.db.execute(
        f"""
        WITH ranked AS (
            SELECT v.transcript_id, t.model, v.principal, v.label, v.evidence,
                   ROW_NUMBER() OVER (
                       PARTITION BY t.model, v.principal, v.label ORDER BY v.transcript_id
                   ) AS k
            FROM verdicts v JOIN transcripts t ON t.id = v.transcript_id
            WHERE t.run_id IN ({marks}) AND v.classifier = ? AND v.classifier_version = ?
              AND v.label != 'not_applicable'
        )
        SELECT r.transcript_id, r.model, r.principal, r.label, r.evidence, t.dilemma_id,
               d.family, d.axes, t.epoch, json_extract(d.body, '$.messages'), t.messages,
               t.final_answer, t.reasoning, t.stop_reason
        FROM ranked r JOIN transcripts t ON t.id = r.transcript_id
        JOIN dilemmas d ON d.id = t.dilemma_id
        WHERE r.k <= ?
        ORDER BY r.model, r.principal, r.label, r.transcript_id
        """,
        (*runs, classifier, version, per_label),
    ).fetchall()
    return [
        Sample(
            transcript_id=row[0],
            model=row[1],
            principal=row[2],
            label=row[3],
            evidence=json.loads(row[4]),
            dilemma_id=row[5],
            family=row[6],
            axes=json.loads(row[7]),
            epoch=row[8],
            prompt=json.loads(row[9] or "[]"),
            messages=json.loads(row[10]),
            final_answer=row[11],
            reasoning=row[12],
            stop_reason=row[13],
        )
        for row in rows
    ]
