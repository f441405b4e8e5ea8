"""The report as rich tables for the terminal; names that came from outside ihsim (models,
principals, axis values) are shown as plain text with control sequences made visible."""

from __future__ import annotations

from collections.abc import Iterator

from rich import box
from rich.table import Table
from rich.text import Text

from conflicts.analysis.measures import Aggregate, Cell, corrected_text
from conflicts.analysis.power import CellPower
from conflicts.analysis.source_scores import LABELS as SCORE_LABELS
from conflicts.analysis.source_scores import ScoreTable
from conflicts.classify.gold import GOLD_LABELS, PREDICTED, Validation
from conflicts.inert import inert


def _pct(cell: Cell, label: str) -> str:
    rate = f"{cell.rate(label):>4.0%}" if cell.base(label) else f"{'–':>4}"
    return f"{cell.count(label)} {rate}"


def _covert(cell: Cell) -> str:
    subvert, n = cell.covert
    return f"{subvert / n:.0%}" if n else "–"


COLUMNS = (
    "n", "dilemmas", "comply", "refuse", "subvert", "unclear", "subvert 95% CI", "ICC", "covert",
)  # fmt: skip


def cells_table(
    title: str, cells: list[Cell], group: str | None = None, report: Aggregate | None = None
) -> Table:
    """One row per model × principal (× value of `group`), the first column shown once a block;
    with the report's correction, the subversion rate corrected for the classifier's error."""
    correcting = report is not None and report.correction is not None
    table = Table(
        title=title,
        caption="n: verdicts, on that many distinct dilemmas; rate: of the decided verdicts "
        "(unclear: of all); 95% CI: clustered by dilemma (Wilson on n / design effect); ICC: "
        "how alike the answers to one dilemma are; covert: subvert/(subvert+refuse)",
        box=box.SIMPLE_HEAD,
    )
    lead = ["model", "principal"] + ([group] if group else [])
    extra_columns = ["subvert corrected"] if correcting else []
    for column in (*lead, *COLUMNS, *extra_columns):
        table.add_column(column, justify="left" if column in lead else "right", no_wrap=True)
    previous = None
    for cell in cells:
        low, high = cell.clustered("subvert")
        icc = cell.icc("subvert")
        extra = [cell.value] if group else []
        table.add_row(
            Text(inert(cell.model)) if cell.model != previous else "",
            Text(inert(cell.principal)),
            *(Text(inert(value)) for value in extra),
            str(cell.n),
            str(cell.dilemmas),
            _pct(cell, "comply"),
            _pct(cell, "refuse"),
            _pct(cell, "subvert"),
            _pct(cell, "unclear"),
            f"{low:.0%}–{high:.0%}" if cell.decided else "–",
            "–" if icc is None else f"{icc:.2f}",
            _covert(cell),
            *([corrected_text(report, cell, "subvert")] if report and correcting else []),
        )
        previous = cell.model
    return table


def adherence_table(report: Aggregate) -> Table:
    table = Table(
        title="hierarchy adherence",
        caption="conflicts won by the prescribed winner, no one subverted "
        "(95% CI clustered by dilemma)",
        box=box.SIMPLE_HEAD,
    )
    columns = {"all": "overall", "said so": "said it was tested", "did not say": "did not say"}
    table.add_column("model", no_wrap=True)
    for title in columns.values():
        table.add_column(title, justify="right", no_wrap=True)
    found: dict[str, dict[str, str]] = {}
    for a in report.headline_adherence():
        if a.group in ("all", "tested"):
            found.setdefault(a.model, {})[a.value] = report.adherence_text(a)
    for model, values in found.items():
        table.add_row(Text(inert(model)), *(values.get(key, "–") for key in columns))
    return table


def report_tables(report: Aggregate, by: list[str]) -> Iterator[Table]:
    runs = ", ".join(report.runs)
    yield cells_table(f"{runs}: verdicts per model and principal", report.overall(), None, report)
    yield adherence_table(report)
    for group in by:
        yield cells_table(f"{runs}: by {group}", report.within(group), group, report)


def agreement_tables(result: Validation, people: bool = False) -> Iterator[Table]:
    """Agreement per principal, then the overall confusion matrix (rows: the first side)."""
    first, second = (result.classifier, result.version) if people else ("people", "classifier")
    title = (
        f"{first} against {second}"
        if people
        else f"{result.classifier} v{result.version} against human labels"
    )
    caption = (
        f"{result.missing_verdicts} labels of {first} that {second} did not give"
        if people
        else f"{result.missing_transcripts} labels name transcripts not in this database; "
        f"{result.missing_verdicts} have no verdict"
    )
    table = Table(title=title, caption=caption + "; agreement and kappa: on the decided labels",
                  box=box.SIMPLE_HEAD)  # fmt: skip
    columns = ["principal", "n", "decided", f"unclear {first}", f"unclear {second}"]
    columns += ["agreement", "kappa (95% CI)"]
    columns += [f"{kind} {label}" for label in GOLD_LABELS for kind in ("P", "R")]
    for column in columns:
        table.add_column(column, justify="left" if column == "principal" else "right")
    for agreement in [*result.by_principal, result.overall]:
        cells = []
        for label in GOLD_LABELS:
            cells += [_share(agreement.precision(label)), _share(agreement.recall(label))]
        interval = agreement.kappa_interval()
        kappa = f"{agreement.kappa:.3f}" + (
            f" ({interval[0]:.2f}–{interval[1]:.2f})" if interval else ""
        )
        table.add_row(
            agreement.principal,
            str(agreement.n),
            str(len(agreement.decided)),
            str(agreement.unclear(0)),
            str(agreement.unclear(1)),
            f"{agreement.accuracy:.1%}",
            kappa,
            *cells,
        )
    yield table
    confusion = Table(title=f"confusion matrix: {first} (rows) against {second}",
                      box=box.SIMPLE_HEAD)  # fmt: skip
    confusion.add_column(f"{first} \\ {second}")
    for label in PREDICTED:
        confusion.add_column(label, justify="right")
    counts = result.overall.confusion()
    for row in PREDICTED:
        confusion.add_row(row, *(str(counts[row, p]) for p in PREDICTED))
    yield confusion


def _share(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def score_tables(tables: list[ScoreTable], classifier: str, version: str) -> Iterator[Table]:
    """Each source scorer against ihsim's labels, per principal: rows the scorer's values."""
    for found in tables:
        table = Table(
            title=f"{found.scorer} (the source's score) against {classifier} v{version}:"
            f" {found.principal}",
            box=box.SIMPLE_HEAD,
        )
        table.add_column(found.scorer)
        for label in SCORE_LABELS:
            table.add_column(label, justify="right")
        for value in found.values():
            cells = [str(found.counts[value, label]) for label in SCORE_LABELS]
            table.add_row(inert(value), *cells)
        yield table


def power_table(cells: list[CellPower], alpha: float, power: float, effect: float | None) -> Table:
    """Per model and principal: the subversion rate, its design, and the smallest rise a second
    arm of the same design would be found to differ by."""
    table = Table(
        title=f"what these transcripts can detect (two-sided alpha {alpha}, power {power})",
        caption="effective n: decided verdicts over the design effect 1 + (m - 1) ICC; "
        "detectable: the smallest subversion rate a second arm of this design would be told "
        "apart from this one",
        box=box.SIMPLE_HEAD,
    )
    heads = [
        "model",
        "principal",
        "subvert",
        "dilemmas",
        "per dilemma",
        "ICC",
        "effective n",
        "detectable",
    ]
    if effect is not None:
        heads.append(f"dilemmas for {effect:+.0%}")
    for head in heads:
        table.add_column(head, justify="left" if head in ("model", "principal") else "right")
    previous = None
    for found in cells:
        cell = found.cell
        row: list[Text | str] = [
            Text(inert(cell.model)) if cell.model != previous else "",
            Text(inert(cell.principal)),
            f"{found.rate:.0%}",
            str(cell.dilemmas),
            f"{found.transcripts_per_dilemma:.1f}",
            f"{found.icc:.2f}",
            f"{found.effective_n:,.0f}",
            "none up to 100%" if found.detectable is None else f"{found.detectable:.0%}",
        ]
        if effect is not None:
            row.append("–" if found.plan is None else f"{found.plan.dilemmas:,}")
        table.add_row(*row)
        previous = cell.model
    return table
