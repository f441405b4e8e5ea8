"""`ihsim run` as a whole: plan, execute with a rich progress bar on stderr, summarise.

What only execution needs (the runner, rich's progress bar, the SDKs) is imported while a child
process plans the run, not before; a --quiet run never imports rich."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conflicts.errors import Interrupted, StoreError
from conflicts.providers.registry import check_model, sdk_modules
from conflicts.providers.tls import build_aside
from conflicts.run.garbage_collection import import_quietly, paused
from conflicts.run.plan import file_sha256, plan_beside, plan_run, run_id_for
from conflicts.store.database import RunInfo, Store, failure

if TYPE_CHECKING:
    from conflicts.run.execute import Outcome
    from conflicts.store.transcript import Transcript

RUNNER = ("conflicts.run.execute",)
BAR = ("rich.progress",)  # not imported for --quiet runs


@dataclass(frozen=True)
class Batched:
    """How a run goes by batches: the providers' batch APIs (`api`, polled every `poll_s`),
    or files for an engine of one's own (`requests_file`, `results_file`)."""

    api: bool = False
    poll_s: float = 30.0
    requests_file: Path | None = None
    results_file: Path | None = None
    progress: bool = True  # each round's lines on stderr, with --json too: batches take hours


def run_with_progress(
    dilemma_file: Path | None,
    models: list[str],
    epochs: int,
    params: dict[str, Any],
    db: Path,
    quiet: bool,
    resume: str | None = None,
    batched: Batched | None = None,
    **execution: Any,
) -> Outcome:
    """Plan and execute a run, or `resume` one by id; a database this call created is removed
    if planning fails.

    `execution` goes to `execute`: max_connections, use_cache, prices, max_cost."""
    modules = RUNNER if quiet else (*RUNNER, *BAR)
    with paused():  # what planning imports and opens lives until exit
        store, run = (
            _resumed(db, resume)
            if resume
            else _planned(dilemma_file, models, epochs, params, db, modules)
        )
    try:
        finished = store.transcript_counts(run.id).get("ok", 0)  # a count, not the set
        if finished < run.planned:  # else no call, no SDK
            build_aside()
            modules = (*sdk_modules(run.models), *modules)
        import_quietly(modules)  # and freezes all alive: the run's collections see only its own
        if batched is not None:
            return _batched(store, run, batched, execution)
        from conflicts.run.execute import execute

        if quiet:
            return asyncio.run(execute(store, run, **execution))
        return _with_bar(store, run, finished, execution)
    except KeyboardInterrupt:  # each result was committed as it came: say what the store holds
        raise Interrupted(_kept(store, run)) from None
    except sqlite3.Error as exc:
        reason = failure(exc)
        if reason is None:
            raise
        raise StoreError(f"{reason}; {_kept(store, run)}", file=str(db)) from None
    finally:
        store.close()


def _batched(store: Store, run: RunInfo, batched: Batched, execution: dict[str, Any]) -> Outcome:
    """Execute by batches, saying each round's progress on stderr unless quiet."""
    from conflicts.run.batch import execute_batch
    from conflicts.run.batch_file import file_round

    def say(line: str) -> None:
        if batched.progress:
            print(f"{run.id}: {line}", file=sys.stderr, flush=True)

    prices, use_cache = execution.get("prices"), execution.get("use_cache", True)
    if batched.api:
        outcome = asyncio.run(
            execute_batch(
                store, run, prices, execution.get("max_cost"), use_cache, batched.poll_s, say
            )
        )
    else:
        outcome, waiting = asyncio.run(
            file_round(
                store, run, batched.requests_file, batched.results_file, prices, use_cache, say
            )
        )
        outcome.waiting = waiting
    counts = store.transcript_counts(run.id)
    say(
        f"{counts.get('ok', 0)} of {run.planned} transcripts stored ({outcome.done} now,"
        f" {len(outcome.failed)} failed); cost so far ${store.run_cost(run.id):.4f}"
    )
    return outcome


def _kept(store: Store, run: RunInfo) -> str:
    """What a run stopped early holds, read from the store, and how to go on."""
    counts = store.transcript_counts(run.id)
    return (
        f"{run.id}: {counts.get('ok', 0)} of {run.planned} transcripts stored"
        f" ({counts.get('error', 0)} failed); run the same command, or"
        f" `ihsim run --resume {run.id}`, to continue"
    )


def _with_bar(store: Store, run: RunInfo, finished: int, execution: dict[str, Any]) -> Outcome:
    """Execute under rich's progress bar on stderr (drawn only on a terminal), then say what
    the run did."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from conflicts.run.execute import execute

    class Rate(ProgressColumn):
        """Transcripts a second, read when the bar is drawn (10 times a second): rich averages
        every sample of the last 30 s, too dear to do per transcript."""

        def render(self, task: Task) -> Text:
            return Text(f"{task.speed or 0:.0f}/s")

    console = Console(stderr=True)
    with Progress(  # fits 80 columns: the bar takes what the figures leave
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        Rate(),
        TextColumn(
            "{task.fields[errors]} err  {task.fields[tokens]:,} tok  ${task.fields[cost]:.2f}"
        ),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        spent = store.run_cost(run.id)
        task = progress.add_task(
            run.id, total=run.planned, completed=finished, errors=0, tokens=0, cost=spent
        )
        tally = {"errors": 0, "tokens": 0, "cost": spent}

        def advance(transcript: Transcript) -> None:
            tally["errors"] += transcript.status != "ok"
            tally["tokens"] += transcript.usage.input_tokens + transcript.usage.output_tokens
            tally["cost"] += transcript.cost_usd or 0.0
            progress.update(
                task, advance=1, errors=tally["errors"], tokens=tally["tokens"], cost=tally["cost"]
            )

        outcome = asyncio.run(execute(store, run, on_result=advance, **execution))
    console.print(
        f"{run.id}: {outcome.done} done, {outcome.skipped} already finished, "
        + (f"{outcome.by_others} done by another process, " if outcome.by_others else "")
        + f"{len(outcome.failed)} failed, of {outcome.planned} "
        f"({run.dilemma_count} dilemmas x {len(run.models)} models x {run.epochs} epochs)"
        f"; cost so far ${outcome.spent:.4f}",
        soft_wrap=True,
    )
    return outcome


def _planned(
    dilemma_file: Path | None,
    models: list[str],
    epochs: int,
    params: dict[str, Any],
    db: Path,
    execution_modules: tuple[str, ...],
) -> tuple[Store, RunInfo]:
    """The store and the run the command describes, found again or planned now: in a child
    process when this one has SDKs (and `execution_modules`) to import meanwhile."""
    assert dilemma_file is not None
    for model in models:
        check_model(model, params)
    created = not db.exists()
    store = Store(db)
    try:
        sha = file_sha256(dilemma_file) if dilemma_file.exists() else ""
        run_id = run_id_for(sha, models, epochs, params)
        if store.has_run(run_id):
            return store, store.run(run_id)
        sdks = sdk_modules(models)
        if any(m not in sys.modules for m in sdks):
            build_aside()
            modules = [m for m in (*sdks, *execution_modules) if m not in sys.modules]
            run_id = plan_beside(db, dilemma_file, models, epochs, params, modules, sha)
            return store, store.run(run_id)
        return store, plan_run(store, dilemma_file, models, epochs, params, check=False, sha=sha)
    except BaseException:
        store.close()
        if created:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        raise


def _resumed(db: Path, run_id: str) -> tuple[Store, RunInfo]:
    """A run already in the store, with its models checked again (keys come from today's
    environment)."""
    if not db.exists():
        raise StoreError("no such database; start with `ihsim run`", file=str(db))
    store = Store(db)
    try:
        run = store.run(run_id)
        for model in run.models:
            check_model(model, run.params)
    except BaseException:
        store.close()
        raise
    return store, run
