"""`ihsim run` as a whole: plan, execute with a rich progress bar on stderr, summarise."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from conflicts.runner import Outcome, execute, plan_run
from conflicts.store import Store
from conflicts.transcript import Transcript


def run_with_progress(
    dilemma_file: Path,
    models: list[str],
    epochs: int,
    params: dict[str, Any],
    db: Path,
    quiet: bool,
    **execution: Any,
) -> Outcome:
    """Plan and execute a run; a database this call created is removed if planning fails.

    `execution` goes to `execute`: max_connections, use_cache, prices, max_cost."""
    created = not db.exists()
    store = Store(db)
    try:
        try:
            run = plan_run(store, dilemma_file, models, epochs, params)
        except BaseException:
            store.close()
            if created:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
            raise
        console = Console(stderr=True)
        show = not quiet and console.is_terminal
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "{task.fields[rate]:.0f}/s  errors {task.fields[errors]}  "
                "tokens {task.fields[tokens]:,}  ${task.fields[cost]:.2f}"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not show,
        ) as progress:
            planned = run.dilemma_count * len(run.models) * run.epochs
            spent = store.run_cost(run.id)
            finished = store.transcript_counts(run.id).get("ok", 0)  # a count, not the set
            task = progress.add_task(
                run.id, total=planned, completed=finished, rate=0.0, errors=0, tokens=0, cost=spent
            )
            tally = {"errors": 0, "tokens": 0, "cost": spent}

            def advance(transcript: Transcript) -> None:
                tally["errors"] += transcript.status != "ok"
                tally["tokens"] += transcript.usage.input_tokens + transcript.usage.output_tokens
                tally["cost"] += transcript.cost_usd or 0.0
                speed = progress.tasks[task].speed or 0.0
                progress.update(
                    task,
                    advance=1,
                    rate=speed,
                    errors=tally["errors"],
                    tokens=tally["tokens"],
                    cost=tally["cost"],
                )

            outcome = asyncio.run(execute(store, run, on_result=advance, **execution))
        if not quiet:
            console.print(
                f"{run.id}: {outcome.done} done, {outcome.skipped} already finished, "
                f"{len(outcome.failed)} failed, of {outcome.planned} "
                f"({run.dilemma_count} dilemmas x {len(run.models)} models x {run.epochs} epochs)"
                f"; cost so far ${outcome.spent:.4f}",
                soft_wrap=True,
            )
        return outcome
    finally:
        store.close()
