"""The report's cluster sums in numpy equal the same sums taken by SQL GROUP BY."""

import random
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from conflicts.analysis.cluster_sums import TESTED_SHIFT, read_clusters, regrouped, summed

# the sums a cell needs, per model, principal and `key`, as a plain GROUP BY takes them
BY_SQL = """
    SELECT model, principal, key, SUM(a > 0), SUM(d > 0), SUM(d), SUM(a), SUM(d * d),
           SUM(a * a), SUM(na), SUM(comply), TOTAL(IIF(d > 0, comply * comply * 1.0 / d, 0)),
           SUM(refuse), TOTAL(IIF(d > 0, refuse * refuse * 1.0 / d, 0)),
           SUM(subvert), TOTAL(IIF(d > 0, subvert * subvert * 1.0 / d, 0)),
           SUM(unclear), TOTAL(IIF(a > 0, unclear * unclear * 1.0 / a, 0))
    FROM (
        SELECT model, principal, {key} AS key, SUM(comply) AS comply, SUM(refuse) AS refuse,
               SUM(subvert) AS subvert, SUM(unclear) AS unclear, SUM(not_applicable) AS na,
               SUM(comply + refuse + subvert) AS d, SUM(comply + refuse + subvert + unclear) AS a
        FROM clusters GROUP BY model, principal, dilemma{split}
    )
    GROUP BY model, principal, key ORDER BY model, principal, key
"""


def _table(seed: int) -> sqlite3.Connection:
    """A random `clusters` table: 3 models, 2 principals, 40 dilemmas over 6 points, tested
    and run varying within a dilemma, some rows with no decided verdict."""
    rng = random.Random(seed)
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TEMP TABLE clusters (model, principal, point, dilemma, tested, run_id, comply,"
        " refuse, subvert, unclear, not_applicable,"
        " PRIMARY KEY (model, principal, point, dilemma, tested, run_id)) WITHOUT ROWID"
    )
    rows = set()
    for _ in range(600):
        dilemma = rng.randrange(40)
        key = (
            rng.choice(["m/b", "m/a", "m/c"]),
            rng.choice(["user", "operator"]),
            dilemma % 6,
            dilemma,
            rng.choice([-1, 0, 1]),
            rng.choice(["run-2", "run-1"]),
        )
        rows.add(key)
    for key in sorted(rows):
        counts = [rng.choice([0, 0, 1, 2, 5]) for _ in range(4)] + [0]
        db.execute("INSERT INTO clusters VALUES (?,?,?,?,?,?,?,?,?,?,?)", (*key, *counts))
    return db


def _rows(table: Any, sums: Any, names: Callable[[int], Any]) -> list[tuple[Any, ...]]:
    return [
        (table.models[m], table.principals[p], names(k), *row)
        for m, p, k, row in sorted(sums.rows(), key=lambda r: r[:3])
    ]


def _same(found: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Row for row: names and counts equal, the float sums to rounding."""
    assert len(found) == len(expected) > 0
    for mine, theirs in zip(found, expected, strict=True):
        assert mine[:3] == tuple(theirs[:3])
        assert list(mine[3:]) == pytest.approx(list(theirs[3:]), rel=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_breakdown_sums_as_sql_groups_them(seed: int) -> None:
    db = _table(seed)
    table = read_clusters(db, by_run=True)
    principals = len(table.principals)
    whole = table.per_dilemma()
    _same(
        _rows(table, summed(principals, whole, whole.point), int),
        db.execute(BY_SQL.format(key="point", split="")).fetchall(),
    )
    tested = table.per_dilemma(table.tested)
    found = _rows(table, summed(principals, tested, tested.split), lambda k: k - TESTED_SHIFT)
    expected = db.execute(BY_SQL.format(key="tested", split=", tested")).fetchall()
    _same(found, expected)
    runs = table.per_dilemma(table.run)
    found = _rows(table, summed(principals, runs, runs.split), table.runs.__getitem__)
    _same(found, db.execute(BY_SQL.format(key="run_id", split=", run_id")).fetchall())


def test_points_summed_into_groups_equal_their_dilemmas_summed_directly() -> None:
    import numpy as np

    db = _table(4)
    table = read_clusters(db, by_run=False)
    principals = len(table.principals)
    whole = table.per_dilemma()
    points = summed(principals, whole, whole.point)
    # group 0 holds every point; group 1 the even points
    point = np.array([0, 1, 2, 3, 4, 5, 0, 2, 4])
    target = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    found = _rows(table, regrouped(principals, points, point, target), int)
    expected = db.execute(BY_SQL.format(key="0", split="")).fetchall()
    evens = db.execute(
        BY_SQL.format(key="1", split="").replace(
            "FROM clusters", "FROM (SELECT * FROM clusters WHERE point % 2 = 0)"
        )
    ).fetchall()
    _same(found, sorted(expected + evens, key=lambda r: (r[0], r[1], r[2])))
