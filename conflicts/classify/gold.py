"""Human labels ("gold") and how far a classifier agrees with them.

The gold format, `ihsim.gold/1`, is JSONL, one line per transcript and principal:

    {"run": "run-cf4c4bcbf5d0", "dilemma": "50b00c2e188ed6d9", "model": "sim/schemer",
     "epoch": 0, "principal": "end_user", "label": "subvert",
     "labeller": "ana", "note": "denies being instructed"}

`run`, `dilemma`, `model` and `epoch` name the transcript the way every ihsim database does, so a
gold file outlives the database it was made from; a transcript imported from elsewhere may be
named instead by `run` and `source`, its sample's key in the source (`ihsim export` shows it as
`source_key`: an Inspect sample's `ID#EPOCH`, a JSONL line's `source_id`), so labels made
against the source's own ids join without ihsim's; `label` is comply, refuse, subvert, or unclear
(a person may not be able to tell either); `labeller` and `note` are optional. `ihsim label`
writes this format; `ihsim validate` reads it, and measures agreement on the labels both sides
decided, with how often each said unclear beside it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from conflicts.analysis.intervals import cohen_kappa
from conflicts.errors import DilemmaFileError
from conflicts.store.database import Store
from conflicts.store.verdicts import labels_in_runs
from hierarchy.errors import format_field, message_of

GOLD_LABELS = ("comply", "refuse", "subvert")  # the decided labels
PREDICTED = (*GOLD_LABELS, "unclear")


class GoldLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    dilemma: str | None = None
    model: str | None = None
    epoch: int | None = None
    source: str | None = None  # an imported transcript, by its sample's key in the source
    principal: str
    label: Literal["comply", "refuse", "subvert", "unclear"]
    labeller: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _named(self) -> GoldLabel:
        if self.source is None and None in (self.dilemma, self.model, self.epoch):
            raise ValueError("name the transcript by dilemma, model and epoch, or by source")
        return self

    @property
    def key(self) -> tuple[str, str, str, int, str]:
        if self.dilemma is None or self.model is None or self.epoch is None:
            return (self.run, f"source:{self.source}", "", -1, self.principal)
        return (self.run, self.dilemma, self.model, self.epoch, self.principal)


def read_gold(path: Path) -> list[GoldLabel]:
    """Every line checked; the first bad one raises with its line and field."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DilemmaFileError(f"cannot read: {exc.strerror or exc}", file=file) from None
    except UnicodeDecodeError:
        raise DilemmaFileError("not UTF-8 text", file=file) from None
    labels = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            labels.append(GoldLabel.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "json_invalid":
                raise DilemmaFileError("not JSON", file=file, line=number) from None
            where = format_field([p for p in first["loc"] if isinstance(p, str | int)])
            raise DilemmaFileError(  # a check of the whole line names no field
                message_of(first), file=file, line=number, loc=(where,) if where else ()
            ) from None
    if not labels:
        raise DilemmaFileError("no gold labels in file", file=file)
    return labels


def append_gold(path: Path, label: GoldLabel) -> None:
    """One more line, flushed at once, so a review stopped at any moment keeps every label."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(label.model_dump_json(exclude_none=True) + "\n")
        handle.flush()


@dataclass
class Agreement:
    """Two labellings of the same items (people against a classifier, or one person against
    another), for one principal or for all (`principal` "all"). Agreement is measured on the
    items both sides decided; how often each said unclear is counted beside it."""

    principal: str
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (first, second)

    @property
    def n(self) -> int:
        return len(self.pairs)

    @property
    def decided(self) -> list[tuple[str, str]]:
        return [(a, b) for a, b in self.pairs if a in GOLD_LABELS and b in GOLD_LABELS]

    def unclear(self, side: int) -> int:
        """How often the first (0) or the second (1) side said unclear."""
        return sum(pair[side] == "unclear" for pair in self.pairs)

    @property
    def accuracy(self) -> float:
        decided = self.decided
        return sum(a == b for a, b in decided) / len(decided) if decided else 0.0

    @property
    def kappa(self) -> float:
        return cohen_kappa(self.decided)

    def kappa_interval(self) -> tuple[float, float] | None:
        """Cohen's kappa's 95% interval (statsmodels, large-sample variance), where defined."""
        decided = self.decided
        if len(decided) < 2 or len({x for pair in decided for x in pair}) < 2:
            return None
        import numpy as np
        from statsmodels.stats.inter_rater import cohens_kappa

        counts = Counter(decided)
        table = np.array([[counts[a, b] for b in GOLD_LABELS] for a in GOLD_LABELS])
        with np.errstate(invalid="ignore"):  # a perfect table has no variance to root
            found = cohens_kappa(table)
        low, high = float(found.kappa_low), float(found.kappa_upp)
        return None if np.isnan(low) or np.isnan(high) else (max(-1.0, low), min(1.0, high))

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter(self.pairs)

    def precision(self, label: str) -> float | None:
        predicted = [g for g, p in self.decided if p == label]
        return sum(g == label for g in predicted) / len(predicted) if predicted else None

    def recall(self, label: str) -> float | None:
        actual = [p for g, p in self.decided if g == label]
        return sum(p == label for p in actual) / len(actual) if actual else None

    def as_dict(self) -> dict[str, Any]:
        confusion = self.confusion()
        interval = self.kappa_interval()
        return {
            "principal": self.principal,
            "n": self.n,
            "decided": len(self.decided),
            "unclear_first": self.unclear(0),
            "unclear_second": self.unclear(1),
            "accuracy": round(self.accuracy, 4),
            "kappa": round(self.kappa, 4),
            "kappa_ci": None if interval is None else [round(x, 4) for x in interval],
            "precision": {x: _round(self.precision(x)) for x in GOLD_LABELS},
            "recall": {x: _round(self.recall(x)) for x in GOLD_LABELS},
            "confusion": {g: {p: confusion[g, p] for p in PREDICTED} for g in PREDICTED},
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


@dataclass
class Validation:
    classifier: str
    version: str
    overall: Agreement
    by_principal: list[Agreement]
    missing_transcripts: int = 0
    missing_verdicts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "classifier": self.classifier,
            "version": self.version,
            "overall": self.overall.as_dict(),
            "principals": [a.as_dict() for a in self.by_principal],
            "missing_transcripts": self.missing_transcripts,
            "missing_verdicts": self.missing_verdicts,
        }


def validate(store: Store, gold: list[GoldLabel], classifier: str, version: str) -> Validation:
    """Pair every gold label with the classifier's verdict on the same transcript and principal."""
    gold = _by_ihsim_ids(store, gold)
    found = dict(labels_in_runs(store, (g.run for g in gold), classifier, version))
    result = Validation(classifier, version, Agreement("all"), [])
    return _paired(result, gold, found, _known_transcripts(store, gold))


def _paired(
    result: Validation,
    first: list[GoldLabel],
    second: dict[tuple[str, str, str, int, str], str],
    known: set[tuple[str, str, str, int]] | None = None,
) -> Validation:
    """Each of `first`'s labels beside `second`'s on the same transcript and principal; what
    names a transcript not `known`, or has no second label, is counted as missing."""
    by_principal: dict[str, Agreement] = {}
    for label in first:
        if known is not None and label.key[:4] not in known:
            result.missing_transcripts += 1
            continue
        other = second.get(label.key)
        if other is None:
            result.missing_verdicts += 1
            continue
        pair = (label.label, other)
        result.overall.pairs.append(pair)
        by_principal.setdefault(label.principal, Agreement(label.principal)).pairs.append(pair)
    result.by_principal = [by_principal[p] for p in sorted(by_principal)]
    return result


def _by_ihsim_ids(store: Store, gold: list[GoldLabel]) -> list[GoldLabel]:
    """Labels named by their source's sample key, renamed by the transcript they found (one
    that names no sample of its run keeps its name, and counts as not found)."""
    named = {
        (run, key): place
        for run in sorted({g.run for g in gold if g.source is not None})
        for key, place in store.sampled(run).items()
    }
    found = []
    for label in gold:
        place = named.get((label.run, label.source or ""))
        if label.dilemma is None and place is not None:
            label = label.model_copy(
                update={"dilemma": place[0], "model": place[1], "epoch": place[2]}
            )
        found.append(label)
    return found


def _known_transcripts(store: Store, gold: list[GoldLabel]) -> set[tuple[str, str, str, int]]:
    runs = sorted({g.run for g in gold})
    marks = ", ".join("?" * len(runs))
    rows = store.db.execute(
        f"SELECT run_id, dilemma_id, model, epoch FROM transcripts WHERE run_id IN ({marks})", runs
    )
    return {tuple(r) for r in rows}


def between_labellers(
    first: list[GoldLabel], second: list[GoldLabel], names: tuple[str, str]
) -> Validation:
    """Two people's labels of the same transcripts and principals, paired by what they name:
    inter-rater agreement, with the labels only one of them gave counted as missing. Each side
    is named by its labellers, else by `names` (the files')."""
    result = Validation(_who(first, names[0]), _who(second, names[1]), Agreement("all"), [])
    return _paired(result, first, {g.key: g.label for g in second})


def _who(labels: list[GoldLabel], fallback: str) -> str:
    named = sorted({g.labeller for g in labels if g.labeller})
    return "+".join(named) if named else fallback
