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
    _dilemmas: dict[int, Dilemma] = field(default_factory=dict)  # the last block's, by position

    def pending(self, block: int) -> list[Job]:
        """The block's transcripts that have not finished, in plan order."""
        per_dilemma = len(self.run.models) * self.run.epochs
        first, last = block * BLOCK, min((block + 1) * BLOCK, self.run.planned) - 1
        dilemmas = self._read(first // per_dilemma, last // per_dilemma)
        jobs: list[Job] = []
        for index in range(first, last + 1):
            position, rest = divmod(index, per_dilemma)
            jobs.append(
                (
                    dilemmas[position],
                    self.run.models[rest // self.run.epochs],
                    rest % self.run.epochs,
                )
            )
        finished = self._finished(jobs)
        return [job for job in jobs if (job[0].id, job[1], job[2]) not in finished]

    def _read(self, low: int, high: int) -> dict[int, Dilemma]:
        """Dilemmas at positions low..high, parsed once even when they span two blocks."""
        kept = {p: d for p, d in self._dilemmas.items() if low <= p <= high}
        missing = [p for p in range(low, high + 1) if p not in kept]
        if missing:
            rows = self.store.db.execute(
                "SELECT r.position, d.body FROM run_dilemmas r JOIN dilemmas d"
                " ON d.id = r.dilemma_id WHERE r.run_id = ? AND r.position BETWEEN ? AND ?",
                (self.run.id, missing[0], missing[-1]),
            ).fetchall()
            kept.update({p: Dilemma.model_validate_json(body) for p, body in rows})
        self._dilemmas = kept
        return kept

    def _finished(self, jobs: list[Job]) -> set[tuple[str, str, int]]:
        """Which of `jobs` have finished, read within their epochs' range: a block of a run of
        many epochs on few dilemmas reads its own epochs, not all of its dilemma's."""
        ids = sorted({dilemma.id for dilemma, _, _ in jobs})
        epochs = [epoch for _, _, epoch in jobs]
        rows = self.store.db.execute(
            "SELECT dilemma_id, model, epoch FROM transcripts WHERE run_id = ? AND status = 'ok'"
            f" AND dilemma_id IN ({','.join('?' * len(ids))}) AND epoch BETWEEN ? AND ?",
            (self.run.id, *ids, min(epochs), max(epochs)),
        ).fetchall()
        return {(d, m, e) for d, m, e in rows}
