"""The one store: a SQLite database (WAL) of dilemmas, runs, transcripts and verdicts.

Migrations (`conflicts.store.migrations`) are named and recorded, so opening an older database
upgrades it in place. Every write
is a short transaction: a run killed at any moment keeps every transcript it had committed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from conflicts.errors import StoreError
from conflicts.scenarios.dilemma import Dilemma
from conflicts.store.migrations import MIGRATIONS
from conflicts.store.transcript import Source, Transcript, Usage

BUSY_S = 30.0  # how long a write waits for another process's


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunInfo:
    id: str
    created_at: str
    source: str
    models: list[str]
    epochs: int
    params: dict[str, Any]
    dilemma_count: int

    @property
    def planned(self) -> int:
        """Transcripts the run asks for: every dilemma with every model at every epoch."""
        return self.dilemma_count * len(self.models) * self.epochs


@dataclass(frozen=True)
class RunSummary:
    """A run and its progress: transcripts finished, failed (retried on resume), cost, tokens."""

    info: RunInfo
    done: int
    failed: int
    cost: float
    tokens: int

    @property
    def planned(self) -> int:
        """An import asked for nothing: its samples, however uneven per dilemma, are the plan."""
        if "imported" in self.info.params:
            return self.done + self.failed
        return self.info.planned


def _run_info(row: tuple[Any, ...]) -> RunInfo:
    return RunInfo(
        id=row[0],
        created_at=row[1],
        source=row[2],
        models=json.loads(row[4]),
        epochs=row[5],
        params=json.loads(row[6]),
        dilemma_count=row[7],
    )


# Why SQLite could not do what was asked, in words that say what to do about it.
FAILURES = {
    "SQLITE_READONLY": "read-only: ihsim cannot write to it, or to its -wal and -shm files"
    " beside it (check the permissions of both and of the folder)",
    "SQLITE_CANTOPEN": "cannot open it: is its folder there, and writable?",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk failed a read or a write",
    "SQLITE_BUSY": f"another process has held it locked for {BUSY_S:.0f} s",
    "SQLITE_LOCKED": f"another process has held it locked for {BUSY_S:.0f} s",
}


def failure(exc: sqlite3.Error) -> str | None:
    """What a SQLite error means for the user, or None for one that means the file is no
    database of ours (or a bug)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    for prefix, meaning in FAILURES.items():
        if name.startswith(prefix):
            return meaning
    return None


class Store:
    """A connection to one ihsim database."""

    last_opened: Path | None = None  # named by the command line's message for a failed write

    def __init__(self, path: Path) -> None:
        self.path = path
        Store.last_opened = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot make its folder: {exc.strerror}", file=str(path)) from None
        try:
            self.db = sqlite3.connect(path, timeout=BUSY_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(failure(exc) or str(exc), file=str(path)) from None
        try:
            self.db.execute(f"PRAGMA busy_timeout={BUSY_S * 1000:.0f}")
            self._check_ours()  # before anything is written to the file
            self._use_wal()
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._check_columns()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            reason = failure(exc)
            if reason is not None:
                raise StoreError(reason, file=str(path)) from None
            raise StoreError(f"not an ihsim database: {exc}", file=str(path)) from None
        except StoreError:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:  # SQLite has rolled back itself after a full disk
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _use_wal(self) -> None:
        """Switch a new database to WAL. The switch takes no busy timeout of its own: two
        processes opening one new store at once would see "database is locked", so it is
        retried for as long as the timeout allows."""
        deadline = time.monotonic() + BUSY_S
        while self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorname != "SQLITE_BUSY" or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _check_ours(self) -> None:
        """Another program's database, or one a newer ihsim wrote, is refused untouched: adding
        our tables to the first, or writing the second under an older schema, would damage it."""
        tables = {
            row[0]
            for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if not tables:
            return  # a new database
        if "migrations" not in tables:
            shown = ", ".join(sorted(tables)[:3])
            raise StoreError(f"not an ihsim database (it holds {shown})", file=str(self.path))
        known = {name for name, _ in MIGRATIONS}
        applied = [row[0] for row in self.db.execute("SELECT name FROM migrations ORDER BY name")]
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise StoreError(
                f"written by a newer ihsim (migration {unknown[0]!r} is unknown to this one):"
                " upgrade ihsim to use it",
                file=str(self.path),
            )

    def _check_columns(self) -> None:
        """Every table holds the columns the migrations made: a hand-edited schema is refused
        with its first difference, not met later as a traceback."""
        for table, columns in _expected_columns(tuple(MIGRATIONS)).items():
            found = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            missing = sorted(columns - found)
            if missing:
                raise StoreError(
                    f"not an ihsim database: table {table!r} lacks column {missing[0]!r}",
                    file=str(self.path),
                )

    def _migrate(self) -> None:
        """Apply missing migrations; each is checked again inside its write lock, so processes
        opening a new database at the same moment apply it exactly once."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS migrations"
            " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for name, sql in MIGRATIONS:
            with self.transaction() as db:
                done = db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone()
                if done:
                    continue
                _apply(db, sql)
                db.execute("INSERT INTO migrations VALUES (?, ?)", (name, now()))

    # runs and dilemmas

    def add_dilemmas(
        self, run_id: str, dilemmas: Iterable[tuple[Dilemma, str]], appended: bool = False
    ) -> int:
        """Record a run's dilemma set, each with its validated JSON; call inside the transaction
        that creates the run (or, `appended`, that adds to an import's set those it lacks). Rows
        go in batches (a statement per dilemma and table cost more than the inserts), as plain
        tuples, so no Dilemma outlives its row: batching the objects themselves made planning
        1.6x slower."""
        rows: tuple[list[tuple[Any, ...]], ...] = ([], [], [], [])
        count, start, known = 0, 0, set()
        if appended:
            known = {
                row[0]
                for row in self.db.execute(
                    "SELECT dilemma_id FROM run_dilemmas WHERE run_id = ?", (run_id,)
                )
            }
            start = len(known)
        dilemmas = ((d, body) for d, body in dilemmas if d.id not in known)
        for count, (dilemma, body) in enumerate(dilemmas, start=1):
            axes = json.dumps(dilemma.axes)
            facts = (dilemma.setting, len(dilemma.tools))  # migration 013
            rows[0].append((dilemma.id, dilemma.family, dilemma.hierarchy, axes, body, *facts))
            rows[1].append((run_id, start + count - 1, dilemma.id))
            rows[2].extend(
                (dilemma.id, i, *dilemma.judged_winner(c)) for i, c in enumerate(dilemma.conflicts)
            )
            rows[3].extend(conflict_sides(dilemma))
            if len(rows[0]) == 500:
                self._insert_dilemma_rows(rows)
        self._insert_dilemma_rows(rows)
        return count

    def _insert_dilemma_rows(self, rows: tuple[list[tuple[Any, ...]], ...]) -> None:
        tables = (
            "dilemmas VALUES (?, ?, ?, ?, ?, ?, ?)",
            "run_dilemmas VALUES (?, ?, ?)",
            "dilemma_conflicts VALUES (?, ?, ?, ?)",
            "conflict_sides VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        for table, batch in zip(tables, rows, strict=True):
            self.db.executemany(f"INSERT OR IGNORE INTO {table}", batch)
            batch.clear()

    def add_run(self, info: RunInfo, source_sha256: str) -> None:
        self.db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                info.id,
                info.created_at,
                info.source,
                source_sha256,
                json.dumps(info.models),
                info.epochs,
                json.dumps(info.params, sort_keys=True),
                info.dilemma_count,
            ),
        )

    def sampled(self, run_id: str) -> dict[str, tuple[str, str, int]]:
        """An import's transcripts, (dilemma, model, epoch), by their sample's key in the
        source."""
        rows = self.db.execute(
            "SELECT source_key, dilemma_id, model, epoch FROM transcripts"
            " WHERE run_id = ? AND source_key IS NOT NULL",
            (run_id,),
        )
        return {key: (dilemma, model, epoch) for key, dilemma, model, epoch in rows}

    def source_keys(self, run_id: str) -> tuple[set[str], dict[tuple[str, str], int]]:
        """An import's sample keys, and the next epoch free for each dilemma and model."""
        keys = set(self.sampled(run_id))
        epochs = self.db.execute(
            "SELECT dilemma_id, model, MAX(epoch) + 1 FROM transcripts WHERE run_id = ?"
            " GROUP BY dilemma_id, model",
            (run_id,),
        )
        return keys, {(d, m): n for d, m, n in epochs}

    def recount_import(self, run_id: str) -> None:
        """An import's models, epochs and dilemma count, from what it holds."""
        self.db.execute(
            "UPDATE runs SET"
            " models = (SELECT json_group_array(model) FROM"
            "  (SELECT DISTINCT model FROM transcripts WHERE run_id = ?1 ORDER BY model)),"
            " epochs = (SELECT COALESCE(MAX(epoch) + 1, 0) FROM transcripts WHERE run_id = ?1),"
            " dilemma_count = (SELECT COUNT(*) FROM run_dilemmas WHERE run_id = ?1)"
            " WHERE id = ?1",
            (run_id,),
        )

    def set_dilemma_count(self, run_id: str, count: int) -> None:
        self.db.execute("UPDATE runs SET dilemma_count = ? WHERE id = ?", (count, run_id))

    def has_run(self, run_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    def run(self, run_id: str | None = None) -> RunInfo:
        """A run by id, or the latest one."""
        if run_id is None:
            row = self.db.execute(
                "SELECT * FROM runs ORDER BY created_at DESC, rowid DESC"
            ).fetchone()
            if row is None:
                raise StoreError(
                    "no runs in this database yet; start one with `ihsim run`", file=str(self.path)
                )
        else:
            row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id!r} in this database", file=str(self.path))
        return _run_info(row)

    def run_ids(self) -> list[str]:
        """Every run's id, oldest first, without counting what each has done."""
        rows = self.db.execute("SELECT id FROM runs ORDER BY created_at, rowid").fetchall()
        return [str(row[0]) for row in rows]

    def runs(self) -> list[RunSummary]:
        """Every run, oldest first, with what it has done so far: one pass over transcripts."""
        rows = self.db.execute(
            "SELECT r.*, COUNT(t.id), COALESCE(SUM(t.status = 'ok'), 0),"
            " COALESCE(SUM(t.cost_usd), 0), COALESCE(SUM(t.input_tokens + t.output_tokens), 0)"
            " FROM runs r LEFT JOIN transcripts t ON t.run_id = r.id"
            " GROUP BY r.id ORDER BY r.created_at, r.rowid"
        )
        return [
            RunSummary(
                _run_info(row), done=row[9], failed=row[8] - row[9], cost=row[10], tokens=row[11]
            )
            for row in rows
        ]

    def batch_progress(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per run sent by batches: its batches and its requests, counted by state."""
        progress: dict[str, dict[str, dict[str, int]]] = {}
        for table in ("batches", "batch_requests"):
            rows = self.db.execute(
                f"SELECT run_id, state, COUNT(*) FROM {table} GROUP BY run_id, state"
            )
            for run_id, state, count in rows:
                kind = "batches" if table == "batches" else "requests"
                progress.setdefault(run_id, {"batches": {}, "requests": {}})[kind][state] = count
        return progress

    def dilemma(self, dilemma_id: str) -> Dilemma:
        row = self.db.execute("SELECT body FROM dilemmas WHERE id = ?", (dilemma_id,)).fetchone()
        if row is None:
            raise StoreError(f"no dilemma {dilemma_id!r}", file=str(self.path))
        return Dilemma.model_validate_json(row[0])

    # transcripts

    def insert_transcripts(self, transcripts: Iterable[Transcript]) -> None:
        """Write a batch, replacing earlier failed attempts, inside a transaction the caller
        holds (the runner commits its cached answers with them)."""
        self.db.executemany(
            "INSERT INTO transcripts (run_id, dilemma_id, model, epoch, status, messages, "
            "final_answer, reasoning, input_tokens, output_tokens, latency_ms, error,"
            " created_at, stop_reason, cost_usd, source_key, source, cache_read_tokens,"
            " cache_write_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (run_id, dilemma_id, model, epoch) DO UPDATE SET"
            " status = excluded.status, messages = excluded.messages,"
            " final_answer = excluded.final_answer, reasoning = excluded.reasoning,"
            " stop_reason = excluded.stop_reason, cost_usd = excluded.cost_usd,"
            " input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,"
            " cache_read_tokens = excluded.cache_read_tokens,"
            " cache_write_tokens = excluded.cache_write_tokens,"
            " latency_ms = excluded.latency_ms, error = excluded.error,"
            " created_at = excluded.created_at"
            " WHERE transcripts.status != 'ok'",
            [_transcript_row(t) for t in transcripts],
        )

    def transcript(self, transcript_id: int) -> Transcript:
        row = self.db.execute(f"{TRANSCRIPT_COLUMNS} WHERE id = ?", (transcript_id,)).fetchone()
        if row is None:
            raise StoreError(f"no transcript {transcript_id}", file=str(self.path))
        return _transcript(row)

    def transcripts(self, run_id: str, page: int = 1000) -> Iterator[tuple[int, Transcript]]:
        """A run's transcripts in order, a page at a time, so no read cursor spans writes."""
        last = 0
        while True:
            rows = self.db.execute(
                f"{TRANSCRIPT_COLUMNS} WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?",
                (run_id, last, page),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                last = row[0]
                yield row[0], _transcript(row)

    def run_cost(self, run_id: str) -> float:
        row = self.db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM transcripts WHERE run_id = ?", (run_id,)
        ).fetchone()
        return float(row[0])

    def transcript_counts(self, run_id: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT status, COUNT(*) FROM transcripts WHERE run_id = ? GROUP BY status", (run_id,)
        )
        return dict(rows.fetchall())


TRANSCRIPT_COLUMNS = (
    "SELECT id, run_id, dilemma_id, model, epoch, status, messages, final_answer, reasoning,"
    " input_tokens, output_tokens, latency_ms, error, stop_reason, cost_usd, source,"
    " cache_read_tokens, cache_write_tokens FROM transcripts"
)


def _transcript(row: tuple[Any, ...]) -> Transcript:
    return Transcript(
        run_id=row[1],
        dilemma_id=row[2],
        model=row[3],
        epoch=row[4],
        status=row[5],
        messages=json.loads(row[6]),
        final_answer=row[7],
        reasoning=row[8],
        usage=Usage(
            input_tokens=row[9],
            output_tokens=row[10],
            cache_read_tokens=row[16],
            cache_write_tokens=row[17],
        ),
        latency_ms=row[11],
        error=row[12],
        stop_reason=row[13],
        cost_usd=row[14],
        source=Source.model_validate_json(row[15]) if row[15] else None,
    )


def _transcript_row(t: Transcript) -> tuple[Any, ...]:
    messages = json.dumps([m.model_dump(exclude_defaults=True) for m in t.messages])
    return (
        t.run_id,
        t.dilemma_id,
        t.model,
        t.epoch,
        t.status,
        messages,
        t.final_answer,
        t.reasoning,
        t.usage.input_tokens,
        t.usage.output_tokens,
        t.latency_ms,
        t.error,
        now(),
        t.stop_reason,
        t.cost_usd,
        t.source.key if t.source else None,
        t.source.model_dump_json(exclude_defaults=True) if t.source else None,
        t.usage.cache_read_tokens,
        t.usage.cache_write_tokens,
    )


def _apply(db: sqlite3.Connection, sql: str) -> None:
    """One migration's statements, in order (sqlite3 executes one statement a call)."""
    for statement in filter(str.strip, sql.split(";")):
        db.execute(statement)


def conflict_sides(dilemma: Dilemma) -> Iterator[tuple[Any, ...]]:
    """Each conflict's two sides as rows: the directive, its issuer and the authority it
    carries, the channel it came by, the identity it claims, and whose verdict judges it."""
    by_id = {d.id: d for d in dilemma.directives}
    for position, conflict in enumerate(dilemma.conflicts):
        for side, (directive_id, principal) in enumerate(
            zip(conflict.directives, conflict.principals, strict=True)
        ):
            record = by_id.get(directive_id)
            if record is None:
                yield (
                    dilemma.id,
                    position,
                    side,
                    directive_id,
                    principal,
                    principal,
                    "unknown",
                    None,
                    principal,
                )
            else:
                yield (
                    dilemma.id,
                    position,
                    side,
                    directive_id,
                    record.principal,
                    record.authority,
                    record.channel,
                    record.claims,
                    record.judged_by,
                )


@cache
def _expected_columns(migrations: tuple[tuple[str, str], ...]) -> dict[str, frozenset[str]]:
    """The tables and columns these migrations make, read from an in-memory database (~1 ms)."""
    db = sqlite3.connect(":memory:")
    try:
        for _, sql in migrations:
            _apply(db, sql)
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: frozenset(row[1] for row in db.execute(f"PRAGMA table_info({t})")) for t in tables
        }
    finally:
        db.close()
