"""The report as tidy rows, one estimate per row, for pandas, R and spreadsheets.

Every row is one measure of one model × principal within one group (`group` "all" for the
whole run, "family", an axis name, or "tested"), with its count, its n, the distinct dilemmas
behind it, Wilson's 95% interval (as if every verdict were independent), the interval clustered
by dilemma (Wilson's on n divided by the design effect) and the intra-dilemma correlation; with
`--correct-with`, the rate corrected for the classifier's measured error and its interval.
Hierarchy adherence is measured per model, so its principal is "*".
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from conflicts.analysis.comparisons import Difference
from conflicts.analysis.correction import Corrected
from conflicts.analysis.intervals import Clusters, wilson
from conflicts.analysis.measures import LABELS, Aggregate

COLUMNS = (
    "model",
    "principal",
    "group",
    "value",
    "measure",
    "count",
    "n",
    "dilemmas",
    "rate",
    "ci_low",
    "ci_high",
    "ci_low_clustered",
    "ci_high_clustered",
    "icc",
    "corrected",
    "corrected_low",
    "corrected_high",
)


def _row(
    model: str,
    principal: str,
    group: str,
    value: str,
    measure: str,
    count: int,
    n: int,
    dilemmas: int | None = None,
    clusters: Clusters | None = None,
    corrected: Corrected | None = None,
) -> dict[str, Any]:
    low, high = wilson(count, n)
    rate = count / n if n else None
    clustered = clusters.interval() if clusters is not None else (None, None)
    icc = clusters.icc if clusters is not None else None
    return dict(
        zip(
            COLUMNS,
            (
                model,
                principal,
                group,
                value,
                measure,
                count,
                n,
                dilemmas,
                _round(rate),
                _round(low),
                _round(high),
                _round(clustered[0]),
                _round(clustered[1]),
                _round(icc),
                _round(corrected.rate if corrected else None),
                _round(corrected.low if corrected else None),
                _round(corrected.high if corrected else None),
            ),
            strict=True,
        )
    )


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def rows(report: Aggregate) -> Iterator[dict[str, Any]]:
    for cell in report.cells:
        key = (cell.model, cell.principal, cell.group, cell.value)
        for label in LABELS:
            clusters = cell.clusters.get(label)
            fixed = report.correction.of(cell, label) if report.correction else None
            count, base = cell.count(label), cell.base(label)
            yield _row(*key, label, count, base, cell.dilemmas, clusters, fixed)
        yield _row(*key, "covert_share", *cell.covert, cell.dilemmas)
    for a in report.headline_adherence():
        dilemmas = a.clusters.k if a.clusters is not None else None
        yield _row(
            a.model, "*", a.group, a.value, "adherence", a.adherent, a.n, dilemmas, a.clusters
        )


def as_json(report: Aggregate, differences: list[Difference], effects: list[Difference]) -> str:
    document = {
        "runs": report.runs,
        "classifier": report.classifier,
        "classifier_version": report.version,
        "caveats": report.caveats,
        "withheld": report.withheld,
        "rows": list(rows(report)),
        "comparisons": [d.as_dict() for d in differences],
        "axis_effects": [e.as_dict() for e in effects],
    }
    return json.dumps(document, indent=2)


def as_csv(report: Aggregate) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(report))
    return out.getvalue()
