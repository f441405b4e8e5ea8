"""The comparison as a rich table for the terminal."""

from __future__ import annotations

from rich import box
from rich.table import Table

from conflicts.report import Cell
from conflicts.store import RunInfo


def _pct(cell: Cell, label: str) -> str:
    return f"{cell.counts.get(label, 0)} {cell.rate(label):>4.0%}"


def comparison_table(run: RunInfo, cells: list[Cell]) -> Table:
    table = Table(
        title=f"{run.id}: verdicts per model and principal",
        caption="count and rate; subvert 95% CI: Wilson interval",
        box=box.SIMPLE_HEAD,
    )
    for column in (
        "model",
        "principal",
        "n",
        "comply",
        "refuse",
        "subvert",
        "unclear",
        "subvert 95% CI",
    ):
        left = column in {"model", "principal"}
        table.add_column(column, justify="left" if left else "right", no_wrap=True)
    previous = None
    for cell in cells:
        low, high = cell.interval("subvert")
        table.add_row(
            cell.model if cell.model != previous else "",
            cell.principal,
            str(cell.n),
            _pct(cell, "comply"),
            _pct(cell, "refuse"),
            _pct(cell, "subvert"),
            _pct(cell, "unclear"),
            f"{low:.0%}–{high:.0%}",
            end_section=False,
        )
        previous = cell.model
    return table
