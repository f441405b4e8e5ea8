"""`ihsim run`, `ihsim runs` and `ihsim import`: transcripts made, listed, or brought in."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from conflicts.cli.options import (
    BASE_URL,
    TEMPERATURE,
    Finite,
    api_key_env_option,
    db_option,
    epochs_option,
    family_option,
    hierarchy_option,
    json_option,
    max_connections_option,
    max_tokens_option,
    max_turns_option,
    models_option,
    no_cache_option,
    open_store,
    poll_interval_option,
    prices_option,
    quiet_option,
    say,
    seed_option,
    table_console,
    temperature_option,
    timeout_option,
)
from conflicts.store import run_defaults as defaults
from hierarchy.errors import InputError

if TYPE_CHECKING:
    from conflicts.store.database import RunSummary


@click.command()
@click.argument("dilemma_file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@models_option("Model to run, e.g. sim/deferential (repeatable).")
@click.option(
    "--resume",
    "resume",
    metavar="RUN_ID",
    default=None,
    help="Continue a run in the store by id, with the models and parameters it was started with.",
)
@epochs_option()
@max_connections_option(8, "Concurrent requests per model.")
@seed_option("Seed passed to the model where supported (sim personas use it).", defaults.SEED)
@max_turns_option("Tool-loop turns before a transcript stops with stop_reason turn_limit.")
@temperature_option(TEMPERATURE, None, "Sampling temperature.")
@max_tokens_option(
    None, f"Output token limit per turn (anthropic default: {defaults.ANTHROPIC_MAX_TOKENS})."
)
@click.option(
    "--stop",
    "stop",
    metavar="TEXT",
    multiple=True,
    help="A stop sequence (repeatable): generation ends before it. Sent as `stop` "
    "(Anthropic: `stop_sequences`) and recorded with the run.",
)
@click.option(
    "-p",
    "--param",
    "extra",
    metavar="KEY=VALUE",
    multiple=True,
    help="Another request field, sent as given and recorded with the run; VALUE is JSON where "
    "it parses (repeatable): -p reasoning_effort=high, "
    """-p 'thinking={"type": "enabled", "budget_tokens": 2048}'.""",
)
@click.option(
    "--base-url",
    type=BASE_URL,
    default=None,
    help="API base URL: needed for openai-compatible/ (vLLM, Ollama, llama.cpp).",
)
@api_key_env_option(
    "Environment variable holding the key (default: OPENAI_API_KEY or ANTHROPIC_API_KEY). "
    "Keys are never recorded."
)
@timeout_option(
    f"Seconds before a request times out and is retried (default {defaults.TIMEOUT:g})."
)
@prices_option("Price table (YAML, USD per million tokens) instead of conflicts/run/prices.yaml.")
@click.option(
    "--max-cost",
    type=Finite(min=0),
    default=None,
    help="Stop starting transcripts once the run has cost this many dollars.",
)
@no_cache_option("Call the model even for requests the store has already seen answered.")
@click.option(
    "--prompt-cache/--no-prompt-cache",
    "prompt_cache",
    default=None,
    help="Whether Anthropic requests mark their shared prefix (tools, system prompt, a "
    "family's shared opening) for the prompt cache, which bills a write at 1.25 times input "
    "and reads at a tenth (default: marked). The answers are the same either way.",
)
@click.option(
    "--batch",
    "batch_api",
    is_flag=True,
    help="Send the requests through the provider's batch API (Anthropic's Message Batches, "
    "OpenAI's Batch API): half the price, results within a day. Rerun to resume.",
)
@click.option(
    "--batch-file",
    "requests_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the requests still waiting to this file in OpenAI's batch input format (for "
    "vLLM's run-batch or a service of your own) instead of sending them.",
)
@click.option(
    "--batch-results",
    "results_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read a finished batch's output file (OpenAI's format) into the run.",
)
@poll_interval_option
@db_option
@quiet_option
@json_option("Print the outcome as JSON.")
def run(
    dilemma_file: Path,
    models: tuple[str, ...],
    epochs: int,
    max_connections: int,
    seed: int,
    max_turns: int,
    temperature: float | None,
    max_tokens: int | None,
    extra: tuple[str, ...],
    stop: tuple[str, ...],
    base_url: str | None,
    api_key_env: str | None,
    timeout: float | None,
    prices_file: Path | None,
    max_cost: float | None,
    no_cache: bool,
    prompt_cache: bool | None,
    batch_api: bool,
    requests_file: Path | None,
    results_file: Path | None,
    poll_interval: float,
    db: Path,
    quiet: bool,
    as_json: bool,
    resume: str | None,
) -> None:
    """Run a dilemma set against models; prints the run id.

    Running the same command again resumes the run: finished transcripts are kept and failed
    ones retried. Request parameters are recorded with the run; API keys never are.

    \b
    Examples:
      ihsim run results/dilemmas.jsonl -m sim/deferential -m sim/schemer --epochs 5
      ihsim run results/dilemmas.jsonl -m anthropic/claude-sonnet-4-5 -m openai/gpt-4.1 -t 1
      ihsim run results/dilemmas.jsonl -m openai-compatible/llama-3.1-8b \\
          --base-url http://127.0.0.1:8000/v1 -c 32
      ihsim run --resume run-cf4c4bcbf5d0
      ihsim run results/dilemmas.jsonl -m anthropic/claude-sonnet-4-5 --batch
      ihsim run results/dilemmas.jsonl -m openai-compatible/qwen3-8b --batch-file requests.jsonl
    """
    _check_run_arguments(dilemma_file, models, resume)
    if batch_api and (requests_file or results_file):
        raise click.UsageError(
            "--batch sends the requests itself: drop --batch-file/--batch-results"
        )

    settings = settings_given(
        seed=seed,
        max_turns=max_turns,
        temperature=temperature,
        max_tokens=max_tokens,
        stop=stop,
        base_url=base_url,
        api_key_env=api_key_env,
        timeout=timeout,
        extra=extra,
        prompt_cache=prompt_cache,
    )
    from conflicts.run.launch import Batched, run_with_progress
    from conflicts.run.prices import load_prices

    batched = None
    if batch_api or requests_file or results_file:
        _check_batchable(models, batch_api)
        batched = Batched(batch_api, poll_interval, requests_file, results_file, not quiet)

    prices = load_prices(prices_file) if prices_file else load_prices()
    outcome = run_with_progress(
        dilemma_file,
        list(models),
        epochs,
        settings.params(),
        db,
        quiet or as_json,
        resume=resume,
        max_connections=max_connections,
        use_cache=not no_cache,
        prices=prices,
        max_cost=max_cost,
        batched=batched,
    )
    if as_json:
        say(
            json.dumps(
                {
                    "run_id": outcome.run_id,
                    "planned": outcome.planned,
                    "skipped": outcome.skipped,
                    "done_by_others": outcome.by_others,
                    "done": outcome.done,
                    "failed": len(outcome.failed),
                    "cut_off": outcome.cut["max_tokens"],
                    "filtered": outcome.cut["filtered"],
                    "cached_turns": outcome.cached_turns,
                    "cost_usd": round(outcome.spent, 6),
                    "stopped_at_max_cost": outcome.stopped,
                    "waiting": outcome.waiting,
                }
            )
        )
    else:
        say(outcome.run_id)
    if outcome.cut["max_tokens"]:
        say(
            f"warning: {outcome.cut['max_tokens']} answers were cut off at the output token "
            "limit (stop_reason max_tokens): their labels rest on part of an answer; a larger "
            "--max-tokens makes a new run",
            err=True,
        )
    if outcome.cut["filtered"]:
        say(
            f"warning: {outcome.cut['filtered']} answers were stopped by the provider's own "
            "safety filter (stop_reason filtered): what they hold is not the model's choice",
            err=True,
        )
    for dilemma_id, model, epoch, error in outcome.failed[:20]:
        say(f"failed: {model} {dilemma_id} epoch {epoch}: {error}", err=True)
    if len(outcome.failed) > 20:
        say(f"... and {len(outcome.failed) - 20} more failed", err=True)
    if any("Error code: 404" in error for *_, error in outcome.failed):
        say(
            "hint: the server answered 404 Not Found: check the model's name and --base-url "
            "(OpenAI-compatible servers answer under /v1)",
            err=True,
        )
    if outcome.stopped:
        left = outcome.planned - outcome.skipped - outcome.done - len(outcome.failed)
        say(
            f"stopped: the run has cost ${outcome.spent:.4f}, reaching --max-cost; {left} "
            "transcripts not started (rerun with a higher --max-cost to continue)",
            err=True,
        )
    if outcome.waiting and requests_file is None:
        say(
            f"waiting: {outcome.waiting} requests have no answer yet; --batch-file FILE writes "
            "them for the next batch",
            err=True,
        )
    if outcome.failed or outcome.stopped or (outcome.waiting and requests_file is None):
        sys.exit(1)


@click.command("runs")
@db_option
@json_option("Print the runs as JSON.")
def runs_command(db: Path, as_json: bool) -> None:
    """List the runs in the store with their progress, oldest first: the ids `run --resume`,
    `classify`, `report` and `compare` take.

    \b
    Example:
      ihsim runs --db results/demo/ihsim.db
    """
    with open_store(db) as store:
        summaries = store.runs()
        batches = store.batch_progress()
    if as_json:
        rows = [_run_row(s) | {"batches": batches.get(s.info.id)} for s in summaries]
        say(json.dumps(rows, indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    from conflicts.inert import inert

    table = Table()
    table.add_column("run", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("models", no_wrap=True)
    table.add_column("settings", overflow="fold", min_width=16)
    for counted in ("done", "failed", "cost"):
        table.add_column(counted, justify="right", no_wrap=True)
    if batches:
        table.add_column("batches", overflow="fold", min_width=16)
    for summary in summaries:
        info = summary.info
        row = [
            info.id,
            info.created_at[:16].replace("T", " "),
            Text(inert("\n".join(info.models))),  # names from outside: shown, never obeyed
            Text(inert("\n".join(_settings(info.params)))),
            f"{summary.done}/{summary.planned}",
            str(summary.failed),
            f"${summary.cost:.2f}",
        ]
        if batches:
            row.append(_batch_state(batches.get(info.id)))
        table.add_row(*row)
    table_console().print(table)


def _batch_state(progress: dict[str, dict[str, int]] | None) -> str:
    """`2 collected, 1 submitted` batches, then their requests by state."""
    if not progress:
        return ""

    def counts(states: dict[str, int]) -> str:
        return ", ".join(f"{n} {state}" for state, n in sorted(states.items()))

    return f"{counts(progress['batches'])}\nrequests: {counts(progress['requests'])}"


def _settings(params: dict[str, Any]) -> list[str]:
    """What a run asked of its models beyond the defaults, `-p` fields as given."""
    from conflicts.store.run_settings import settings_of

    return settings_of(params).shown()


def _run_row(summary: RunSummary) -> dict[str, Any]:
    info = summary.info
    return {
        "run_id": info.id,
        "created_at": info.created_at,
        "source": info.source,
        "models": info.models,
        "epochs": info.epochs,
        "dilemmas": info.dilemma_count,
        "params": info.params,
        "planned": summary.planned,
        "done": summary.done,
        "failed": summary.failed,
        "tokens": summary.tokens,
        "cost_usd": round(summary.cost, 6),
    }


def settings_given(stop: tuple[str, ...], extra: tuple[str, ...], **given: Any) -> Any:
    """The run settings the command line gave (`run`, `smoke`): repeated options as lists,
    `-p` fields parsed."""
    from conflicts.providers.registry import extra_fields
    from conflicts.store.run_settings import RunSettings

    return RunSettings(
        stop=list(stop) or None, extra=extra_fields(extra) if extra else None, **given
    )


BATCHABLE = {
    True: ("anthropic/", "openai/", "openai-compatible/"),
    False: ("openai/", "openai-compatible/"),
}


def _check_batchable(models: tuple[str, ...], api: bool) -> None:
    """Before anything is planned: --batch needs a provider with a batch API, a batch file an
    OpenAI-format model (a resumed run's models are checked when its providers are built)."""
    from conflicts.errors import ArgumentError

    for model in models:
        if not model.startswith(BATCHABLE[api]):
            how = "--batch takes" if api else "--batch-file and --batch-results take"
            raise ArgumentError(
                f"-m {model}: {how} {', '.join(p + 'MODEL' for p in BATCHABLE[api])} only",
                loc=("model",),
            )


COMMANDLINE = click.core.ParameterSource.COMMANDLINE


def _check_run_arguments(
    dilemma_file: Path | None, models: tuple[str, ...], resume: str | None
) -> None:
    """Either a dilemma file and models, or --resume RUN_ID, which keeps the run's own
    parameters (they are part of its id and of its cached requests)."""
    from conflicts.errors import ArgumentError
    from conflicts.store.run_settings import RESUME_FIXED

    ctx = click.get_current_context()
    if resume is None:
        if dilemma_file is None or not models:
            raise ArgumentError("give a dilemma file and at least one -m MODEL, or --resume RUN_ID")
        repeated = sorted({m for m in models if models.count(m) > 1})
        if repeated:  # one model twice is one set of transcripts, and a run that never completes
            raise ArgumentError(f"-m {repeated[0]} is given twice")
        return
    if dilemma_file is not None or models:
        raise ArgumentError("--resume takes the run's own dilemmas and models; drop the others")
    for option in ctx.command.params:
        name = option.name or ""
        if name in RESUME_FIXED and ctx.get_parameter_source(name) is COMMANDLINE:
            flag = max(option.opts, key=len)
            raise ArgumentError(
                f"--resume keeps the parameters the run was started with; drop {flag}"
            )


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@family_option("The family the transcripts answer.")
@hierarchy_option()
@click.option("-m", "--model", help="Model name for records that do not give one.")
@click.option(
    "--axes",
    "axes_text",
    metavar="AXIS=VALUE,...",
    help="Axis values of every sample of these files; axes not given are 'not recorded'.",
)
@click.option(
    "--axes-from",
    metavar="KEY",
    help="Read each sample's axis values from the object under KEY in its metadata.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="A sample that cannot be placed is an error, and nothing is written.",
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="Import the good files when another is bad (exit 1), instead of writing nothing.",
)
@db_option
def import_command(
    paths: tuple[Path, ...],
    family_name: str,
    hierarchy_name: str,
    model: str | None,
    axes_text: str | None,
    axes_from: str | None,
    strict: bool,
    keep_going: bool,
    db: Path,
) -> None:
    """Import transcripts made elsewhere, every sample once: ihsim JSONL (ihsim.transcript/1),
    Inspect AI logs (.eval, .json) and agentic-misalignment results folders, placed in a
    family's dilemmas so `ihsim classify` can label them per principal. Prints each import's
    run id, and how many samples were read, imported, already there and not placed, and why.
    Exits 1 when a sample could not be placed (they are listed), 2 on a bad file (nothing is
    written: each file is in the store whole or not at all).

    \b
    Example:
      ihsim import logs/2026-11-01_task.eval --family confidential-instructions
      ihsim import logs/*.eval -f my-family.yaml --axes-from conditions
      ihsim classify
    """
    from conflicts.errors import DilemmaFileError
    from conflicts.run.import_sources import batches
    from conflicts.run.transcript_import import (
        Catalogue,
        Existing,
        Placing,
        import_batch,
        place,
        run_id_of,
    )  # fmt: skip
    from conflicts.scenarios.family import load_family
    from conflicts.scenarios.generate import check_compatible
    from hierarchy import load_hierarchy

    family = load_family(family_name)
    loaded = load_hierarchy(hierarchy_name)
    check_compatible(family, loaded)
    placing = Placing(_import_axes(axes_text, family), axes_from, model)
    catalogue = Catalogue(family, loaded)
    bad: list[InputError] = []
    planned = []
    existing: dict[str, Existing] = {}
    known = open_store(db) if db.exists() else None  # read only what is there: a bad file
    try:  # leaves no store behind
        for path in paths:
            try:
                for batch in batches(path):
                    run_id = run_id_of(batch, catalogue, loaded.name)
                    if run_id not in existing:
                        existing[run_id] = Existing.of(known, run_id)
                    account = place(batch, catalogue, placing, existing[run_id], run_id)
                    planned.append((batch, account))
            except DilemmaFileError as exc:
                if not keep_going:
                    raise
                bad.append(exc)
    finally:
        if known is not None:
            known.close()
    unplaced = [item for _, account in planned for item in account.unplaced]
    if strict and unplaced:
        where, why = unplaced[0]
        raise InputError(
            f"{len(unplaced)} sample{'s' * (len(unplaced) != 1)} could not be placed"
            " (--strict: nothing written); "
            f"the first: {why}",
            file=where,
        )
    if any(account.placed for _, account in planned):
        with open_store(db, must_exist=False) as store:
            for batch, account in planned:
                import_batch(store, batch, account, family.id, loaded.name)
    for batch, account in planned:
        _show_account(batch, account, family.id)
    for skipped in bad:
        say(f"error: {skipped} (skipped: --keep-going)", err=True)
    if unplaced or bad:
        sys.exit(1)


def _import_axes(text: str | None, family: Any) -> dict[str, str]:
    """`--axes framing=prohibitive,cue_strength=subtle`: one value for each axis named."""
    from conflicts.errors import ArgumentError
    from conflicts.scenarios.axes import parse_axes

    if not text:
        return {}
    try:
        chosen = parse_axes(text, family.supported_axes())
    except InputError as exc:
        raise ArgumentError(f"--axes: {exc.message}") from None
    named = {p.partition("=")[0].strip() for p in text.split(",") if p.strip()}
    axes = {}
    for axis in sorted(named):
        if len(chosen[axis]) != 1:
            raise ArgumentError(f"--axes: give one value of {axis}, the one these samples had")
        axes[axis] = chosen[axis][0]
    return axes


def _show_account(batch: Any, account: Any, family: str) -> None:
    """What became of every sample of one batch, on stderr; its run id on stdout."""
    source = f"{batch.path} ({batch.part})" if batch.part else str(batch.path)
    failed = f" ({account.failed} failed at the source)" if account.failed else ""
    stored = account.placed or account.already
    name = account.run_id if stored else "nothing stored"
    say(
        f"{name}: {account.read} samples read from {source}: "
        f"{len(account.placed)} imported{failed}, {account.already} already there, "
        f"{len(account.unplaced)} not placed ({family})",
        err=True,
    )
    for reason, count in sorted(account.reasons().items()):
        say(f"  not placed ({count}): {reason}", err=True)
        for where, why in account.unplaced:
            if why == reason:
                say(f"    {where}", err=True)
    if stored:
        say(account.run_id)


# the options of `run` that `smoke` takes as they are: what the model is asked, and how
SMOKE_SHARED = (
    "seed", "max_turns", "temperature", "max_tokens", "stop", "extra", "base_url",
    "api_key_env", "timeout", "prices_file", "max_connections",
)  # fmt: skip


@click.command("smoke")
@models_option("Model to check (repeatable).")
@hierarchy_option()
@click.option(
    "--for",
    "planned_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A dilemma file: estimate what running it against each model would cost and take.",
)
@epochs_option("Epochs of the --for run, for its estimate.")
@json_option("Print the checks as JSON.")
def smoke_command(
    models: tuple[str, ...],
    hierarchy_name: str,
    planned_file: Path | None,
    epochs: int,
    as_json: bool,
    **shared: Any,
) -> None:
    """Check models on one dilemma of each family before a big run: requests that fail and why,
    latency, tokens, tool calls where the task needs them, empty or cut-off answers, invented
    turns, reasoning, undecided verdicts; with --for, the cost and time of a full run. Exits 1
    when a check fails (every request failed, no tool call in any agentic family, most answers
    empty), so a script can stop there.

    \b
    Example:
      ihsim smoke -m openai-compatible/qwen2.5 --base-url http://127.0.0.1:8080/v1 \\
          --for results/dilemmas.jsonl -e 5
    """
    from conflicts.analysis.smoke import check_models
    from conflicts.classify.classifiers import classify_run
    from conflicts.classify.registry import get_classifier
    from conflicts.errors import ArgumentError
    from conflicts.run.launch import run_with_progress
    from conflicts.run.prices import load_prices
    from conflicts.store.database import Store, now

    if not models:
        raise ArgumentError("give at least one -m MODEL to check")
    folder = Path("results") / "smoke" / f"{now().replace(':', '')}-{os.getpid()}"  # fresh
    dilemmas = _smoke_dilemmas(hierarchy_name, int(shared["seed"]), folder / "dilemmas.jsonl")
    settings = settings_given(
        **{k: v for k, v in shared.items() if k not in ("prices_file", "max_connections")}
    )
    prices_file = shared["prices_file"]
    prices = load_prices(prices_file) if prices_file else load_prices()
    db = folder / "ihsim.db"
    outcome = run_with_progress(
        dilemmas, list(dict.fromkeys(models)), 1, settings.params(), db, quiet=True,
        max_connections=shared["max_connections"], use_cache=False, prices=prices,
    )  # fmt: skip
    evidence = get_classifier("evidence")
    with Store(db) as store:
        classify_run(store, outcome.run_id, evidence)
        checks = check_models(store, outcome.run_id, evidence.name, evidence.version)
    planned = _line_count(planned_file) * epochs if planned_file else None
    if as_json:
        rows = [c.as_dict(planned, shared["max_connections"]) for c in checks]
        say(json.dumps(rows, indent=2))
    else:
        _show_checks(checks, planned, shared["max_connections"], planned_file, epochs)
        say(f"stored in {db} ({outcome.run_id})", err=True)
    if any(c.problems() for c in checks):
        sys.exit(1)


for _option in run.params:
    if _option.name in SMOKE_SHARED:
        smoke_command.params.insert(-1, _option)


def _smoke_dilemmas(hierarchy_name: str, seed: int, path: Path) -> Path:
    """One seeded dilemma of each family the hierarchy can host."""
    import itertools

    from conflicts.scenarios.axes import parse_axes
    from conflicts.scenarios.family import family_names, load_family
    from conflicts.scenarios.generate import dilemma_lines, hosted, write_jsonl
    from hierarchy import load_hierarchy

    loaded = load_hierarchy(hierarchy_name)
    families, _ = hosted([load_family(name) for name in family_names()], loaded)
    lines = itertools.chain.from_iterable(
        dilemma_lines(f, loaded, parse_axes(None, f.supported_axes()), seed, 1) for f in families
    )
    write_jsonl(lines, path)
    return path


def _line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _show_checks(
    checks: list[Any], planned: int | None, connections: int, file: Path | None, epochs: int
) -> None:
    """One screen: a row per model, then each model's errors, problems and estimate."""
    from rich.table import Table
    from rich.text import Text

    from conflicts.inert import inert

    table = Table(title="smoke: one dilemma of each family")
    for column in ("model", "done", "failed", "latency", "tokens", "tool calls", "empty",
                   "cut off", "invented turns", "reasoning", "unclear"):  # fmt: skip
        table.add_column(column, justify="left" if column == "model" else "right")
    for c in checks:
        latency = c.median_latency_ms
        table.add_row(
            Text(inert(c.model)),
            f"{c.finished}/{c.transcripts}",
            str(c.failed),
            "–" if latency is None else f"{latency / 1000:.2f} s",
            "–" if c.mean_output_tokens is None else f"{c.mean_output_tokens:.0f}",
            f"{c.called_tool}/{c.agentic}",
            str(c.empty),
            str(c.cut_off),
            str(c.invented_turns),
            f"{c.with_reasoning}/{c.finished}",
            "–" if not c.verdicts else f"{c.unclear / c.verdicts:.0%}",
        )
    table_console().print(table)
    for c in checks:
        for error, count in c.errors.most_common(3):
            say(f"{c.model}: {count} failed: {error}")
        for problem in c.problems():
            say(f"{c.model}: FAILED CHECK: {problem}")
        if planned is not None and file is not None:
            cost, seconds = c.estimate(planned, connections)
            if cost is None or seconds is None:
                say(f"{c.model}: no estimate for {file}: nothing finished")
                continue
            say(
                f"{c.model}: {file} x {epochs} epochs = {planned:,} transcripts: about "
                f"${cost:,.2f} and {seconds / 3600:,.1f} h at {connections} connections "
                "(this run's cost and latency per transcript)"
            )
