"""Paired comparisons: two arms answered on the same dilemmas, tested as paired data.

Two models (or two runs) that answered the same dilemma are a matched pair; two values of an
axis are a minimal pair where the dilemmas differ in that axis alone (same family, setting and
every other axis value), which a generated grid makes of every point. Testing such arms as if
they were independent samples throws away the pairing and its power.

The strata are the dilemmas (for an axis, the minimal pairs). Where every stratum holds one
decided verdict per arm, the test is McNemar's exact test on the discordant strata; where some
hold more (epochs), it is the Cochran–Mantel–Haenszel test over the strata, with continuity
correction. Both reduce to sums over the strata, taken here with numpy over one read of each
dilemma's counts (a join in SQL over a row per dilemma, axis and value was most of a large
report's time); the distributions are SciPy's, and the tests check the sums against
statsmodels' `mcnemar` and `StratifiedTable`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from itertools import combinations, groupby
from pathlib import Path
from typing import Any

from conflicts.analysis.cluster_sums import ClusterTable, Dilemmas, read_clusters
from conflicts.scenarios.axes import NOT_RECORDED, NOT_VARIED

MCNEMAR = "McNemar exact"
CMH = "Cochran-Mantel-Haenszel"

# (kind, model, principal, axis, side a, side b): kind is "model" (the sides are models, model
# is ""), "run" (runs within a model) or "axis" (values of `axis` within a model); a < b
PairKey = tuple[str, str, str, str, str, str]


@dataclass(frozen=True)
class Pairing:
    """Two arms over the strata where both have a decided verdict: each arm's subversions and
    decided verdicts there, the strata where only one arm subverted (meaningful when each
    stratum holds one verdict per arm), and the CMH sums of arm a's subversions, their
    expectation and variance under no difference."""

    strata: int
    subvert_a: int
    n_a: int
    subvert_b: int
    n_b: int
    single: bool  # one decided verdict per arm in every stratum
    only_a: int
    only_b: int
    expected: float
    variance: float

    @property
    def test(self) -> str:
        return MCNEMAR if self.single else CMH

    def p_value(self) -> float:
        """Two-sided: the exact binomial on the discordant strata (McNemar), or the CMH
        chi-square with one degree of freedom; 1 where the strata say nothing either way."""
        from scipy.stats import binomtest, chi2  # imported only where tests are made

        if self.single:
            discordant = self.only_a + self.only_b
            if not discordant:
                return 1.0
            return float(binomtest(self.only_a, discordant, 0.5).pvalue)
        if self.variance <= 0:
            return 1.0
        statistic = (abs(self.subvert_a - self.expected) - 0.5) ** 2 / self.variance
        return float(chi2.sf(statistic, 1))


def pairings(
    db: sqlite3.Connection,
    by_run: bool,
    axes: Collection[str],
    strata: Future[list[StratumRow]] | None = None,
    read: tuple[ClusterTable, Dilemmas] | None = None,
) -> dict[PairKey, Pairing]:
    """Every pair of models per principal on their shared dilemmas, of runs within a model
    (`by_run`) and of the values of each of `axes` within a model on their minimal pairs; from
    the report's temp table `clusters` (`read` already, with its rows summed per dilemma and,
    `by_run`, per run), and the runs' `strata` (read here if not given)."""
    import numpy as np

    if read is None:
        table = read_clusters(db, by_run)
        read = table, table.per_dilemma(table.run if by_run else None)
    table, summed = read
    decided_all = summed.decided
    keep = decided_all > 0
    if not keep.any():
        return {}
    model, principal, dilemma = summed.model[keep], summed.principal[keep], summed.dilemma[keep]
    subverts = summed.counts[keep, 2].astype(float)
    decided = decided_all[keep].astype(float)
    model_names, principal_names = table.models, table.principals
    principals = len(principal_names)
    within = model * principals + principal  # a model and principal
    found: dict[PairKey, Pairing] = {}
    sides = len(model_names)
    for cell, a, b, pairing in _pairs(principal, dilemma, model, subverts, decided, sides):
        found["model", "", principal_names[cell], "", model_names[a], model_names[b]] = pairing
    if by_run:
        run, run_names = summed.split[keep], table.runs
        for cell, a, b, pairing in _pairs(within, dilemma, run, subverts, decided, len(run_names)):
            m, p = divmod(cell, principals)
            key = ("run", model_names[m], principal_names[p], "", run_names[a], run_names[b])
            found[key] = pairing
    if not axes:
        return found
    rows = strata.result() if strata is not None else strata_rows(db)
    seen = set(np.unique(dilemma).tolist())  # the dilemmas with a decided verdict
    known = db.execute("SELECT dilemma_id, dilemma FROM dilemma_points")
    dilemmas = {name: number for name, number in known if number in seen}
    for axis, values, value_of, stratum_of in _strata(rows, axes, dilemmas):
        v, st = value_of[dilemma], stratum_of[dilemma]
        on = v >= 0
        arms = (within[on], st[on], v[on], subverts[on], decided[on], len(values))
        for cell, a, b, pairing in _pairs(*arms):
            m, p = divmod(cell, principals)
            found["axis", model_names[m], principal_names[p], axis, values[a], values[b]] = pairing
    return found


def _pairs(
    cell: Any, stratum: Any, side: Any, subverts: Any, decided: Any, sides: int
) -> Iterator[tuple[int, int, int, Pairing]]:
    """Within each cell, every pair of sides (a < b) over the strata where both have a decided
    verdict: (cell, a, b, their pairing)."""
    import numpy as np

    if not len(cell):
        return
    width = int(stratum.max()) + 1
    rows, row_of = np.unique(cell * width + stratum, return_inverse=True)
    s = np.zeros((len(rows), sides))
    n = np.zeros((len(rows), sides))
    np.add.at(s, (row_of, side), subverts)
    np.add.at(n, (row_of, side), decided)
    row_cell = rows // width
    for a, b in combinations(range(sides), 2):
        for index, pairing in _paired_sums(row_cell, s, n, a, b):
            yield index, a, b, pairing


StratumRow = tuple[str, str, str, str]  # axis, value, dilemma, the dilemma without the axis


def strata_rows(db: sqlite3.Connection, runs: Sequence[str] | None = None) -> list[StratumRow]:
    """Every varied axis value of these runs' dilemmas (without runs, the report's temp table
    `dilemma_points`'), with each dilemma's stratum for that axis (family, setting and every other
    axis), in axis order: what the minimal pairs are made of. Given runs, read from the store
    alone, so `strata_aside` can read it beside the report."""
    marks = ", ".join("?" * len(runs or ()))
    among = (
        f"SELECT dilemma_id FROM transcripts WHERE run_id IN ({marks})"
        if runs is not None
        else "SELECT dilemma_id FROM dilemma_points"
    )
    return db.execute(
        f"""
        SELECT j.key, j.value, d.id,
               d.family || char(31) || d.setting || char(31)
                   || json_remove(d.axes, '$."' || j.key || '"')
        FROM (
            SELECT id, family, axes, setting FROM dilemmas
            WHERE id IN ({among})
        ) d, json_each(d.axes) j
        WHERE j.value NOT IN (?, ?)
        ORDER BY j.key
        """,
        (*(runs or ()), NOT_VARIED, NOT_RECORDED),
    ).fetchall()


def strata_aside(path: Path, runs: Sequence[str], pool: Executor) -> Future[list[StratumRow]]:
    """`strata_rows` on another thread and connection, while the report's tables are built."""

    def read() -> list[StratumRow]:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return strata_rows(db, runs)
        finally:
            db.close()

    return pool.submit(read)


def _strata(
    rows: list[StratumRow], axes: Collection[str], dilemmas: dict[str, int]
) -> Iterator[tuple[str, list[str], Any, Any]]:
    """Per axis: its values in order, and for each dilemma of `dilemmas` (by its number) its
    value's index and its stratum, -1 where the axis was not varied or not recorded."""
    import numpy as np

    wanted = set(axes)
    width = max(dilemmas.values(), default=-1) + 1
    for axis, group in groupby(rows, key=lambda row: row[0]):
        if axis not in wanted:
            continue
        items = [row for row in group if row[2] in dilemmas]  # the others decided nothing
        values = sorted({row[1] for row in items})
        index = {value: i for i, value in enumerate(values)}
        strata: dict[str, int] = {}
        value_of = np.full(width, -1)
        stratum_of = np.full(width, -1)
        for _, value, dilemma, stratum in items:
            value_of[dilemmas[dilemma]] = index[value]
            stratum_of[dilemmas[dilemma]] = strata.setdefault(stratum, len(strata))
        yield axis, values, value_of, stratum_of


def _paired_sums(row_cell: Any, s: Any, n: Any, a: int, b: int) -> Iterator[tuple[int, Pairing]]:
    """Per cell, value a against value b over the strata where both have a decided verdict."""
    import numpy as np

    both = (n[:, a] > 0) & (n[:, b] > 0)
    c, sa, na, sb, nb = row_cell[both], s[both, a], n[both, a], s[both, b], n[both, b]
    t, m = na + nb, sa + sb
    expected = na * m / t
    variance = np.where(t > 1, na * nb * m * (t - m) / (t * t * np.maximum(t - 1, 1)), 0.0)
    for index in np.unique(c):
        own = c == index
        single = bool(na[own].max() == 1 and nb[own].max() == 1)
        yield (
            int(index),
            Pairing(
                int(own.sum()),
                int(sa[own].sum()),
                int(na[own].sum()),
                int(sb[own].sum()),
                int(nb[own].sum()),
                single,
                int((sa[own] > sb[own]).sum()),
                int((sb[own] > sa[own]).sum()),
                float(expected[own].sum()),
                float(variance[own].sum()),
            ),
        )
