"""Every breakdown's cluster sums, from the report's temp table `clusters` read once.

`clusters` holds a row per model, principal, dilemma, tested and run with its count of each
label. A cell's clustered interval needs sums over the cell's dilemmas: how many there are, the
draws and their squares, and per label s_i^2/m_i. A GROUP BY per breakdown walked the table's
million rows once each (by axis point, by tested, by run, and again for the paired tests), and
SQLite's interpreter on those rows was most of a large report's time; read once into arrays,
each breakdown is a grouped sum in numpy, counts summed as integers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]

KEY = "model, principal, point, dilemma, tested, run_id"  # the table's primary key, its order
COUNTS = ("comply", "refuse", "subvert", "unclear", "not_applicable")
TESTED_SHIFT = 1  # tested is -1, 0 or 1, shifted to index arrays


@dataclass(frozen=True)
class Groups:
    """Rows summed by a key, in key order: per key the integer and float sums, and the first
    of its rows (which says what else the rows of a key share)."""

    ints: Ints
    floats: Floats
    first: Ints


def grouped(key: Ints, ints: Ints, floats: Floats | None = None) -> Groups:
    """Rows with equal `key` summed, in key order; the rows of a key in their own order."""
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    new = np.r_[True, sorted_key[1:] != sorted_key[:-1]] if len(key) else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    sums = np.add.reduceat(ints[order], starts, axis=0) if len(key) else ints[:0]
    floating: Floats = np.zeros((len(starts), 0))
    if floats is not None:  # summed one after another, in the rows' order
        index = np.cumsum(new) - 1
        columns = [np.bincount(index, weights=f[order], minlength=len(starts)) for f in floats.T]
        floating = np.asarray(columns, dtype=np.float64).T.reshape(len(starts), floats.shape[1])
    return Groups(sums, floating, order[starts])


def _key(model: Ints, principal: Ints, principals: int, inner: Ints, width: int) -> Ints:
    """One integer per model, principal and `inner` value (below `width`), to group by."""
    return (model * principals + principal) * width + inner


@dataclass(frozen=True)
class Dilemmas:
    """A row per model, principal and dilemma (and value of a split: tested or run), its
    clusters' counts summed."""

    model: Ints
    principal: Ints
    point: Ints
    dilemma: Ints
    split: Ints
    counts: Ints  # a column per COUNTS

    @property
    def decided(self) -> Ints:
        return self.counts[:, 0] + self.counts[:, 1] + self.counts[:, 2]


@dataclass(frozen=True)
class ClusterTable:
    """The temp table `clusters` as arrays, in its key's order: models, principals and runs
    numbered in sorted order (as the key sorts them), tested shifted to 0, 1, 2."""

    models: list[str]
    principals: list[str]
    runs: list[str]
    model: Ints
    principal: Ints
    point: Ints
    dilemma: Ints
    tested: Ints
    run: Ints
    counts: Ints

    def per_dilemma(self, split: Ints | None = None) -> Dilemmas:
        """Each model, principal and dilemma's rows summed (apart by `split`'s values)."""
        width = int(self.dilemma.max(initial=0)) + 1
        key = _key(self.model, self.principal, len(self.principals), self.dilemma, width)
        parts = int(split.max(initial=0)) + 1 if split is not None else 1
        key = key * parts + (split if split is not None else 0)
        found = grouped(key, self.counts)
        first = found.first
        return Dilemmas(
            self.model[first],
            self.principal[first],
            self.point[first],  # a dilemma has one point
            self.dilemma[first],
            split[first] if split is not None else np.zeros(len(first), np.int64),
            found.ints,
        )


def read_clusters(db: sqlite3.Connection, by_run: bool) -> ClusterTable:
    """The table read in its key's order: the numbers in one query, models and principals as
    the lengths of their runs of rows, run ids only where runs are told apart."""
    heads = db.execute(
        "SELECT model, principal, COUNT(*) FROM clusters GROUP BY model, principal"
        " ORDER BY model, principal"
    ).fetchall()
    rows = db.execute(
        f"SELECT point, dilemma, tested, {', '.join(COUNTS)} FROM clusters ORDER BY {KEY}"
    ).fetchall()
    numbers = np.array(rows, dtype=np.int64).reshape(-1, 3 + len(COUNTS))
    models = sorted({m for m, _, _ in heads})
    principals = sorted({p for _, p, _ in heads})
    sizes = [n for _, _, n in heads]
    model = np.repeat(np.array([models.index(m) for m, _, _ in heads], np.int64), sizes)
    principal = np.repeat(np.array([principals.index(p) for _, p, _ in heads], np.int64), sizes)
    runs: list[str] = []
    run = np.zeros(len(numbers), np.int64)
    if by_run:
        names = [r for (r,) in db.execute(f"SELECT run_id FROM clusters ORDER BY {KEY}")]
        runs = sorted(set(names))
        number = {r: i for i, r in enumerate(runs)}
        run = np.array([number[r] for r in names], dtype=np.int64)
    return ClusterTable(
        models,
        principals,
        runs,
        model,
        principal,
        numbers[:, 0],
        numbers[:, 1],
        numbers[:, 2] + TESTED_SHIFT,
        run,
        numbers[:, 3:],
    )


@dataclass(frozen=True)
class Sums:
    """Per model, principal and key, what a cell's counts and clustered intervals need: the
    dilemmas with any verdict and with a decided one, the decided draws and all draws and
    their squares, not_applicable, each label's count; and each label's sum s_i^2/m_i (over
    the decided draws; for unclear, over all)."""

    model: Ints
    principal: Ints
    key: Ints
    ints: Ints  # k_every, k_decided, d, a, d2, a2, na, comply, refuse, subvert, unclear
    shares: Floats  # q per label: comply, refuse, subvert, unclear

    def rows(self) -> Iterator[tuple[int, int, int, list[Any]]]:
        """(model, principal, key, the sums in the order measures._count reads them)."""
        ints, shares = self.ints.tolist(), self.shares.tolist()
        keys = zip(self.model.tolist(), self.principal.tolist(), self.key.tolist(), strict=True)
        for (m, p, k), whole, q in zip(keys, ints, shares, strict=True):
            labels = [x for pair in zip(whole[7:], q, strict=True) for x in pair]
            yield m, p, k, [*whole[:7], *labels]


def summed(principals: int, dilemmas: Dilemmas, key: Ints) -> Sums:
    """The sums per model, principal and value of `key` (one per row of `dilemmas`)."""
    c, d = dilemmas.counts, dilemmas.decided
    a = d + c[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.column_stack(
            [
                np.where(base > 0, c[:, i] * c[:, i] * 1.0 / base, 0.0)
                for i, base in ((0, d), (1, d), (2, d), (3, a))
            ]
        )
    ints = np.column_stack([a > 0, d > 0, d, a, d * d, a * a, c[:, 4], c[:, :4]]).astype(np.int64)
    model, principal = dilemmas.model, dilemmas.principal
    width = int(key.max(initial=0)) + 1
    found = grouped(_key(model, principal, principals, key, width), ints, shares)
    first = found.first
    return Sums(model[first], principal[first], key[first], found.ints, found.floats)


def regrouped(principals: int, points: Sums, point: Ints, target: Ints) -> Sums:
    """Sums by point summed again into coarser groups: each (point, target) pair adds the
    point's sums to the target's (a point belongs to its family, to each of its axis values
    and to the whole)."""
    order = np.argsort(points.key, kind="stable")
    by_point = points.key[order]
    low = np.searchsorted(by_point, point, "left")
    lengths = np.searchsorted(by_point, point, "right") - low
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = order[np.repeat(low, lengths) + offsets]
    targets = np.repeat(target, lengths)
    model, principal = points.model[rows], points.principal[rows]
    width = int(target.max(initial=0)) + 1
    key = _key(model, principal, principals, targets, width)
    found = grouped(key, points.ints[rows], points.shares[rows])
    first = found.first
    return Sums(model[first], principal[first], targets[first], found.ints, found.floats)
