"""A run's plan in blocks: BLOCK consecutive transcripts (dilemma, then model, then epoch), the
unit that processes running one run share (`conflicts.store.leases`).

What is left of a block is read from the store when the block is taken, not remembered from the
start, so a process finds what another finished meanwhile, and holds one block's dilemmas at a
time whatever the size of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conflicts.scenarios.dilemma import Dilemma
from conflicts.store.database import RunInfo, Store
from conflicts.store.leases import BLOCK

Job = tuple[Dilemma, str, int]


def block_count(run: RunInfo) -> int:
    return -(-run.planned // BLOCK)


@dataclass
class Blocks:
    """The pending transcripts of each block of one run."""

    store: Store
    run: RunInfo
    _parsed: dict[int, Dilemma] = field(default_factory=dict)  # the last block's, by position

    def pending(self, block: int) -> list[Job]:
        """The block's transcripts that have not finished, in plan order; only the dilemmas
        that have some are parsed (a resumed run skips its finished blocks cheaply)."""
        per_dilemma = len(self.run.models) * self.run.epochs
        first, last = block * BLOCK, min((block + 1) * BLOCK, self.run.planned) - 1
        ids = self._ids(first // per_dilemma, last // per_dilemma)
        planned: list[tuple[int, str, int]] = []
        for index in range(first, last + 1):
            position, rest = divmod(index, per_dilemma)
            planned.append(
                (position, self.run.models[rest // self.run.epochs], rest % self.run.epochs)
            )
        finished = self._finished(ids, [epoch for _, _, epoch in planned])
        left = [(p, m, e) for p, m, e in planned if (ids[p], m, e) not in finished]
        dilemmas = self._dilemmas(sorted({p for p, _, _ in left}))
        return [(dilemmas[p], m, e) for p, m, e in left]

    def _ids(self, low: int, high: int) -> dict[int, str]:
        rows = self.store.db.execute(
            "SELECT position, dilemma_id FROM run_dilemmas"
            " WHERE run_id = ? AND position BETWEEN ? AND ?",
            (self.run.id, low, high),
        ).fetchall()
        return dict(rows)

    def _dilemmas(self, positions: list[int]) -> dict[int, Dilemma]:
        """Dilemmas at these positions, parsed once even when they span two blocks."""
        kept = {p: self._parsed[p] for p in positions if p in self._parsed}
        missing = [p for p in positions if p not in kept]
        if missing:
            rows = self.store.db.execute(
                "SELECT r.position, d.body FROM run_dilemmas r JOIN dilemmas d"
                " ON d.id = r.dilemma_id WHERE r.run_id = ? AND r.position BETWEEN ? AND ?",
                (self.run.id, missing[0], missing[-1]),
            ).fetchall()
            kept.update({p: Dilemma.model_validate_json(body) for p, body in rows if p in missing})
        self._parsed = kept
        return kept

    def _finished(self, ids: dict[int, str], epochs: list[int]) -> set[tuple[str, str, int]]:
        """(dilemma, model, epoch) finished among these dilemmas, read within the block's
        epochs: a block of a run of many epochs on few dilemmas reads its own, not all."""
        distinct = sorted(set(ids.values()))
        rows = self.store.db.execute(
            "SELECT dilemma_id, model, epoch FROM transcripts WHERE run_id = ? AND status = 'ok'"
            f" AND dilemma_id IN ({','.join('?' * len(distinct))}) AND epoch BETWEEN ? AND ?",
            (self.run.id, *distinct, min(epochs), max(epochs)),
        ).fetchall()
        return {(d, m, e) for d, m, e in rows}
