"""`ihsim estimate`: what a run will cost, per model, before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from conflicts.cli.options import (
    db_option,
    epochs_option,
    json_option,
    max_turns_option,
    models_option,
    prices_option,
    say,
    table_console,
)


@click.command("estimate")
@click.argument("dilemma_file", type=click.Path(dir_okay=False, path_type=Path))
@models_option("Model to price, e.g. anthropic/claude-sonnet-4-5 (repeatable).")
@epochs_option()
@max_turns_option("The run's turn limit: the worst case of dilemmas with tools.")
@click.option(
    "--output-tokens",
    type=click.IntRange(0),
    default=None,
    help="Output tokens per answer (default: the mean of the model's finished transcripts in "
    "the store, else 300).",
)
@prices_option("Price table (YAML) instead of conflicts/run/prices.yaml.")
@db_option
@json_option("Print the estimate as JSON.")
def estimate_command(
    dilemma_file: Path,
    models: tuple[str, ...],
    epochs: int,
    max_turns: int,
    output_tokens: int | None,
    prices_file: Path | None,
    db: Path,
    as_json: bool,
) -> None:
    """Requests, tokens and price of a run before it runs: live, live with prompt caching,
    by batch (--batch), and by batch with caching. Nothing is sent.

    \b
    Example:
      ihsim estimate results/dilemmas.jsonl -m anthropic/claude-sonnet-4-5 -m openai/gpt-4.1 -e 5
    """
    from conflicts.errors import ArgumentError
    from conflicts.run.estimate import estimate, shared_openings
    from conflicts.run.prices import load_prices
    from conflicts.scenarios.dilemma import read_dilemma_lines

    if not models:
        raise ArgumentError("give at least one -m MODEL to price")
    prices = load_prices(prices_file) if prices_file else load_prices()
    outputs = {m: _output_tokens(db, m, output_tokens) for m in models}

    def dilemmas() -> Any:
        return (d for _, _, d in read_dilemma_lines(dilemma_file))

    shared = shared_openings(dilemmas())
    estimates = estimate(dilemmas(), list(models), epochs, max_turns, outputs, shared)
    rows = [_row(e, e.priced(prices)) for e in estimates]
    if as_json:
        say(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table()
    for name in ("model", "transcripts", "requests", "input tok", "output tok"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for name in ("live", "live, cached", "batch", "batch, cached"):
        table.add_column(name, justify="right")
    for row in rows:
        requests = f"{row['requests']:,}"
        if row["requests_at_turn_limit"] != row["requests"]:
            requests += f" (≤{row['requests_at_turn_limit']:,})"
        table.add_row(
            row["model"],
            f"{row['transcripts']:,}",
            requests,
            f"{row['input_tokens']:,}",
            f"{row['output_tokens']:,}",
            *(
                _dollars(row["cost_usd"][k])
                for k in ("live", "live_cached", "batch", "batch_cached")
            ),
        )
    table_console().print(table)
    for row in rows:
        say(
            f"{row['model']}: {row['output_per_answer']} output tokens an answer"
            f" ({row['output_from']})"
            + (
                f"; {row['agentic']:,} transcripts have tools: 2 requests each, at most "
                f"{row['requests_at_turn_limit']:,} requests "
                f"({_dollars(row['cost_usd']['live_at_turn_limit'])} live) at the turn limit"
                if row["agentic"]
                else ""
            )
        )
    say(
        "input tokens are characters / 4 (no tokenizer); see `ihsim estimate --help` and the "
        "README for how far that was off on the fake servers",
    )


def _dollars(value: float | None) -> str:
    return "no price" if value is None else f"${value:,.2f}"


def _row(e: Any, costs: dict[str, float | None]) -> dict[str, Any]:
    return {
        "model": e.model,
        "transcripts": e.transcripts,
        "agentic": e.agentic,
        "requests": e.requests,
        "requests_at_turn_limit": e.requests_at_limit,
        "input_tokens": e.live.input_tokens,
        "output_tokens": e.live.output_tokens,
        "cache_read_tokens": e.cached.cache_read_tokens,
        "cache_write_tokens": e.cached.cache_write_tokens,
        "output_per_answer": e.output_per_answer,
        "output_from": e.output_from,
        "cost_usd": costs,
    }


def _output_tokens(db: Path, model: str, given: int | None) -> tuple[int, str]:
    """Output tokens per answer: as given, else measured in the store, else assumed."""
    from conflicts.run.estimate import DEFAULT_OUTPUT_TOKENS

    if given is not None:
        return given, "given"
    if db.exists():
        from conflicts.store.database import Store

        with Store(db) as store:
            tokens, answers = store.db.execute(
                "SELECT SUM(output_tokens), SUM((SELECT COUNT(*) FROM json_each(messages)"
                " WHERE json_extract(value, '$.role') = 'assistant'))"
                " FROM transcripts WHERE model = ? AND status = 'ok' AND output_tokens > 0",
                (model,),
            ).fetchone()
        if tokens and answers:
            return round(tokens / answers), f"the mean of its {answers:,} answers in {db}"
    return DEFAULT_OUTPUT_TOKENS, "assumed: no answers of this model in the store"
