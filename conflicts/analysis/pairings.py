"""Paired comparisons: two arms answered on the same dilemmas, tested as paired data.

Two models (or two runs) that answered the same dilemma are a matched pair; two values of an
axis are a minimal pair where the dilemmas differ in that axis alone (same family, setting and
every other axis value), which a generated grid makes of every point. Testing such arms as if
they were independent samples throws away the pairing and its power.

The strata are the dilemmas (for an axis, the minimal pairs). Where every stratum holds one
decided verdict per arm, the test is McNemar's exact test on the discordant strata; where some
hold more (epochs), it is the Cochran–Mantel–Haenszel test over the strata, with continuity
correction. Both reduce to sums over the strata, taken here in SQL, so a million verdicts cost
one join; the distributions are SciPy's, and the tests check the sums against statsmodels'
`mcnemar` and `StratifiedTable`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

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


def pairings(db: sqlite3.Connection, by_run: bool, axes: Collection[str]) -> dict[PairKey, Pairing]:
    """Every pair of models per principal on their shared dilemmas, of runs within a model
    (`by_run`) and of the values of each of `axes` within a model on their minimal pairs; from
    the report's temp table `clusters`."""
    db.execute(
        """
        CREATE TEMP TABLE arms AS
        SELECT run_id, model, principal, dilemma_id, SUM(subvert) AS s,
               SUM(comply + refuse + subvert) AS n
        FROM clusters GROUP BY run_id, model, principal, dilemma_id
        HAVING n > 0
        """
    )
    try:
        db.execute(
            """
            CREATE TEMP TABLE sides AS
            SELECT 'model' AS kind, '' AS model, principal, '' AS axis, model AS side,
                   dilemma_id AS stratum, SUM(s) AS s, SUM(n) AS n
            FROM arms GROUP BY model, principal, dilemma_id
            """
        )
        if by_run:
            db.execute(
                "INSERT INTO sides SELECT 'run', model, principal, '', run_id, dilemma_id, s, n"
                " FROM arms"
            )
        if axes:
            _axis_sides(db, axes)
        db.execute(
            "CREATE INDEX temp.sides_stratum ON sides (kind, model, principal, axis, stratum)"
        )
        return {_pair_key(row): _pairing(row) for row in db.execute(_PAIRED)}
    finally:
        db.execute("DROP TABLE IF EXISTS temp.sides")
        db.execute("DROP TABLE IF EXISTS temp.arms")


def _pair_key(row: tuple[Any, ...]) -> PairKey:
    kind, model, principal, axis, a, b = (str(v) for v in row[:6])
    return (kind, model, principal, axis, a, b)


def _pairing(row: tuple[Any, ...]) -> Pairing:
    strata, sa, na, sb, nb, single, only_a, only_b, expected, variance = row[6:]
    return Pairing(strata, sa, na, sb, nb, bool(single), only_a, only_b, expected, variance)


def _axis_sides(db: sqlite3.Connection, axes: Collection[str]) -> None:
    """Each dilemma's arm under each axis value, its stratum the dilemma with that axis taken
    out; dilemmas where the axis was not varied or not recorded have no value to compare. The
    strata are found once per dilemma, each body read once, into an indexed table, since a
    join on a subquery has no index and is quadratic."""
    marks = ", ".join("?" * len(axes))
    db.execute(
        f"""
        CREATE TEMP TABLE strata AS
        SELECT d.id AS dilemma_id, j.key AS axis, j.value AS value,
               d.family || char(31) || d.setting || char(31)
                   || json_remove(d.axes, '$."' || j.key || '"') AS stratum
        FROM (
            SELECT id, family, axes, json_extract(body, '$.setting') AS setting FROM dilemmas
            WHERE id IN (SELECT dilemma_id FROM arms)
        ) d, json_each(d.axes) j
        WHERE j.key IN ({marks}) AND j.value NOT IN (?, ?)
        """,
        (*axes, NOT_VARIED, NOT_RECORDED),
    )
    try:
        db.execute("CREATE INDEX temp.strata_dilemma ON strata (dilemma_id)")
        db.execute(
            """
            INSERT INTO sides
            SELECT 'axis', a.model, a.principal, t.axis, t.value, t.stratum, SUM(a.s), SUM(a.n)
            FROM (
                SELECT model, principal, dilemma_id, SUM(s) AS s, SUM(n) AS n
                FROM arms GROUP BY model, principal, dilemma_id
            ) a
            JOIN strata t ON t.dilemma_id = a.dilemma_id
            GROUP BY a.model, a.principal, t.axis, t.stratum, t.value
            """
        )
    finally:
        db.execute("DROP TABLE IF EXISTS temp.strata")


# Per pair of sides sharing a stratum: the strata, each arm's counts, whether every stratum held
# one verdict per arm, the strata where only one arm subverted, and the CMH expectation and
# variance of arm a's subversions (hypergeometric, given each stratum's margins).
_PAIRED = """
    SELECT x.kind, x.model, x.principal, x.axis, x.side, y.side,
           COUNT(*), SUM(x.s), SUM(x.n), SUM(y.s), SUM(y.n),
           MAX(x.n) = 1 AND MAX(y.n) = 1, SUM(x.s > y.s), SUM(y.s > x.s),
           TOTAL(x.n * (x.s + y.s) * 1.0 / (x.n + y.n)),
           TOTAL(IIF(x.n + y.n > 1,
               x.n * y.n * (x.s + y.s) * (x.n + y.n - x.s - y.s) * 1.0
               / ((x.n + y.n) * (x.n + y.n) * (x.n + y.n - 1.0)), 0))
    FROM sides x JOIN sides y
        ON y.kind = x.kind AND y.model = x.model AND y.principal = x.principal
        AND y.axis = x.axis AND y.stratum = x.stratum AND y.side > x.side
    GROUP BY x.kind, x.model, x.principal, x.axis, x.side, y.side
"""
