"""The comparison table: for each model and principal, how often the model complied, refused,
subverted, from the verdicts in the store. Aggregation is one SQL query."""

from __future__ import annotations

from dataclasses import dataclass, field

from conflicts.stats import wilson
from conflicts.store import Store

LABELS = ("comply", "refuse", "subvert", "unclear")


@dataclass
class Cell:
    """One model × principal row of the comparison."""

    model: str
    principal: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return sum(self.counts.get(label, 0) for label in LABELS)

    def rate(self, label: str) -> float:
        return self.counts.get(label, 0) / self.n if self.n else 0.0

    def interval(self, label: str) -> tuple[float, float]:
        return wilson(self.counts.get(label, 0), self.n)

    def as_dict(self) -> dict[str, object]:
        row: dict[str, object] = {"model": self.model, "principal": self.principal, "n": self.n}
        for label in LABELS:
            low, high = self.interval(label)
            row[label] = self.counts.get(label, 0)
            row[f"{label}_rate"] = round(self.rate(label), 4)
            row[f"{label}_ci95"] = [round(low, 4), round(high, 4)]
        return row


def comparison(store: Store, run_id: str, classifier: str) -> list[Cell]:
    """Counts per model × principal × label, for the latest version of `classifier`."""
    rows = store.db.execute(
        """
        SELECT t.model, v.principal, v.label, COUNT(*)
        FROM verdicts v JOIN transcripts t ON t.id = v.transcript_id
        WHERE t.run_id = ? AND v.classifier = ? AND v.label != 'not_applicable'
          AND v.classifier_version = (
            SELECT MAX(classifier_version) FROM verdicts WHERE classifier = ?)
        GROUP BY t.model, v.principal, v.label
        ORDER BY t.model, v.principal
        """,
        (run_id, classifier, classifier),
    ).fetchall()
    cells: dict[tuple[str, str], Cell] = {}
    for model, principal, label, count in rows:
        cell = cells.setdefault((model, principal), Cell(model, principal))
        cell.counts[label] = count
    return list(cells.values())
