"""The `ihsim` command line: a thin shell over functions the tests call directly.

Bad input becomes one line on stderr and exit code 2; failed transcripts make exit code 1.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hierarchy.errors import InputError

if TYPE_CHECKING:
    from conflicts.store.database import RunSummary

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_DB = Path("results") / "ihsim.db"
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class IhsimGroup(click.Group):
    """Turns input errors anywhere below into one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


def db_option(fn: F) -> F:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        envvar="IHSIM_DB",
        show_default=True,
        help="The SQLite store (env: IHSIM_DB).",
    )(fn)


class FloatOrNone(click.ParamType):
    """A number, or `none` for an option whose field is then left out of the request."""

    name = "float|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, float):
            return value
        if str(value).strip().lower() == "none":
            return None
        try:
            return float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor 'none'", param, ctx)


def output_option(fn: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write here instead of standard output.",
    )(fn)


def open_store(db: Path, must_exist: bool = True) -> Any:
    from conflicts.errors import StoreError
    from conflicts.store.database import Store

    if must_exist and not db.exists():
        raise StoreError("no such database; start with `ihsim run`", file=str(db))
    return Store(db)


@click.group(cls=IhsimGroup, context_settings=CONTEXT)
@click.version_option(package_name="ihsim")
def main() -> None:
    """ihsim: when a model's principals disagree, whom does it comply with, refuse, or subvert?

    \b
    The main job, end to end:
      ihsim generate --family confidential-instructions --hierarchy model-spec -o d.jsonl
      ihsim run d.jsonl -m sim/deferential -m sim/schemer --epochs 5
      ihsim classify
      ihsim report
    """


# hierarchy


@main.group(cls=IhsimGroup)
def hierarchy() -> None:
    """Principal hierarchies: who outranks whom, and through which channel.

    \b
    Example:
      ihsim hierarchy show four-principals --format dot | dot -Tsvg > h.svg
    """


@hierarchy.command("list")
def hierarchy_list() -> None:
    """List the built-in hierarchy presets.

    \b
    Example:
      ihsim hierarchy list
    """
    from hierarchy import load_hierarchy, preset_names

    for name in preset_names():
        description = " ".join(load_hierarchy(name).spec.description.split())
        click.echo(f"{name:<18} {description}")


@hierarchy.command("show")
@click.argument("name_or_file")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "dot", "json"]), default="text", show_default=True
)
def hierarchy_show(name_or_file: str, fmt: str) -> None:
    """Show a preset or a hierarchy file: principals, channels, order, unordered pairs.

    \b
    Example:
      ihsim hierarchy show model-spec --format json
    """
    from hierarchy import load_hierarchy
    from hierarchy.render import as_dot, as_json, as_text

    loaded = load_hierarchy(name_or_file)
    if fmt == "json":
        click.echo(json.dumps(as_json(loaded), indent=2))
    else:
        click.echo(as_dot(loaded) if fmt == "dot" else as_text(loaded))


@hierarchy.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def hierarchy_validate(file: Path) -> None:
    """Check a hierarchy YAML file; errors name the line and field.

    \b
    Example:
      ihsim hierarchy validate my-lab.yaml
    """
    from hierarchy import load_hierarchy_file

    loaded = load_hierarchy_file(file)
    pairs = loaded.unordered_pairs()
    click.echo(
        f"ok: {loaded.name}: {len(loaded.principals)} principals, "
        f"{len(loaded.spec.authority)} authority edges, {len(pairs)} unordered pairs"
    )


# families


@main.group(cls=IhsimGroup)
def families() -> None:
    """Scenario families: the YAML templates dilemmas are generated from.

    \b
    Example:
      ihsim families show confidential-instructions
    """


@families.command("list")
def families_list() -> None:
    """List the built-in families.

    \b
    Example:
      ihsim families list
    """
    from conflicts.scenarios.family import family_names, load_family

    for name in family_names():
        family = load_family(name)
        click.echo(f"{name:<28} {family.title}: axes {', '.join(family.axes)}")


@families.command("show")
@click.argument("name_or_file")
def families_show(name_or_file: str) -> None:
    """Show a family: principals, directives, conflicts, axes.

    \b
    Example:
      ihsim families show confidential-instructions
    """
    from conflicts.scenarios.family import load_family

    family = load_family(name_or_file)
    click.echo(f"{family.id} (v{family.version}): {family.title}\n")
    click.echo(" ".join(family.summary.split()) + "\n")
    click.echo("principals: " + ", ".join(family.principals))
    for directive in family.directives:
        click.echo(f"  {directive.id:<12} {directive.principal} {directive.kind}")
    for conflict in family.conflicts:
        click.echo(f"conflict: {conflict.between[0]} vs {conflict.between[1]}")
    for axis, values in family.axes.items():
        click.echo(f"axis {axis}: {', '.join(values)}")
    for tool in family.tools:
        when = f" (only when {tool.only_when})" if tool.only_when else ""
        click.echo(f"tool {tool.name}: {tool.description.strip()}{when}")
    click.echo(f"settings: {len(family.settings)}; moves: {', '.join(m.id for m in family.moves)}")


@families.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-H",
    "--hierarchy",
    "hierarchy_name",
    default=None,
    help="Hierarchy to render under (default: the first preset with its principals).",
)
def families_validate(file: Path, hierarchy_name: str | None) -> None:
    """Check a family file, render every dilemma, and check its moves against its evidence.

    \b
    Example:
      ihsim families validate my-family.yaml
    """
    from conflicts.classify.self_check import check_family
    from conflicts.scenarios.family import load_family_file

    family = load_family_file(file)
    count = check_family(family, hierarchy_name, str(file))
    click.echo(f"ok: {family.id}: {count} dilemmas render; every move is labelled as intended")


# generate, run, classify, report


@main.command()
@click.option(
    "-f",
    "--family",
    "family_name",
    required=True,
    help="Built-in name, YAML file, or 'all' (every built-in family the hierarchy can host).",
)
@click.option(
    "-H",
    "--hierarchy",
    "hierarchy_name",
    default="model-spec",
    show_default=True,
    help="Preset name or YAML file.",
)
@click.option(
    "-a",
    "--axes",
    default=None,
    help="Axis values to cross, e.g. 'framing=*,cue_strength=subtle' (default: all).",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    help="Keep a seeded random sample of N dilemmas.",
)
@click.option("-s", "--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def generate(
    family_name: str,
    hierarchy_name: str,
    axes: str | None,
    sample: int | None,
    seed: int,
    output: Path,
) -> None:
    """Generate a dilemma set (JSONL) from a family under a hierarchy.

    The same arguments always give byte-identical output.

    \b
    Example:
      ihsim generate --family confidential-instructions --hierarchy model-spec \\
          --axes 'framing=*' --seed 7 -o results/dilemmas.jsonl
    """
    from conflicts.scenarios.family import family_names, load_family
    from conflicts.scenarios.generate import check_compatible, family_set_lines, hosted, write_jsonl
    from hierarchy import load_hierarchy

    loaded = load_hierarchy(hierarchy_name)
    if family_name == "all":
        families, left_out = hosted([load_family(name) for name in family_names()], loaded)
    else:
        families, left_out = [load_family(family_name)], []
        check_compatible(families[0], loaded)
    lines = family_set_lines(families, loaded, axes, seed, sample)
    next_line = next(lines)  # axis errors surface here, before a file exists
    summary = write_jsonl(itertools.chain([next_line], lines), output)
    for reason in left_out:
        click.echo(f"skipped: {reason}", err=True)
    click.echo(f"wrote {summary.total} dilemmas to {output}", err=True)
    if len(summary.by_family) > 1:
        for family_id, count in sorted(summary.by_family.items()):
            click.echo(f"  family {family_id}: {count}", err=True)
    for (axis, value), count in sorted(summary.by_axis.items()):
        click.echo(f"  {axis}={value}: {count}", err=True)


@main.command()
@click.argument("dilemma_file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    help="Model to run, e.g. sim/deferential (repeatable).",
)
@click.option(
    "--resume",
    "resume",
    metavar="RUN_ID",
    default=None,
    help="Continue a run in the store by id, with the models and parameters it was started with.",
)
@click.option("-e", "--epochs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "-c",
    "--max-connections",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Concurrent requests per model.",
)
@click.option(
    "-s",
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed passed to the model where supported (sim personas use it).",
)
@click.option(
    "--max-turns",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Tool-loop turns before a transcript stops with stop_reason turn_limit.",
)
@click.option("-t", "--temperature", type=float, default=None, help="Sampling temperature.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Output token limit per turn (anthropic default: 1024).",
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
    default=None,
    help="API base URL: needed for openai-compatible/ (vLLM, Ollama, llama.cpp).",
)
@click.option(
    "--api-key-env",
    default=None,
    help="Environment variable holding the key (default: OPENAI_API_KEY or "
    "ANTHROPIC_API_KEY). Keys are never recorded.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds before a request times out and is retried (default 120).",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Price table (YAML, USD per million tokens) instead of conflicts/run/prices.yaml.",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop starting transcripts once the run has cost this many dollars.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Call the model even for requests the store has already seen answered.",
)
@db_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
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
    base_url: str | None,
    api_key_env: str | None,
    timeout: float | None,
    prices_file: Path | None,
    max_cost: float | None,
    no_cache: bool,
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
      ihsim run --resume run-ce9a456d6cdf
    """
    _check_run_arguments(dilemma_file, models, resume)
    params: dict[str, object] = {"seed": seed, "max_turns": max_turns}
    optional = {
        "temperature": temperature,
        "max_tokens": max_tokens,
        "base_url": base_url,
        "api_key_env": api_key_env,
        "timeout": timeout,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    if extra:
        from conflicts.providers.registry import extra_fields

        params["extra"] = extra_fields(extra)
    from conflicts.run.launch import run_with_progress
    from conflicts.run.prices import load_prices

    prices = load_prices(prices_file) if prices_file else load_prices()
    outcome = run_with_progress(
        dilemma_file,
        list(models),
        epochs,
        params,
        db,
        quiet or as_json,
        resume=resume,
        max_connections=max_connections,
        use_cache=not no_cache,
        prices=prices,
        max_cost=max_cost,
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run_id": outcome.run_id,
                    "planned": outcome.planned,
                    "skipped": outcome.skipped,
                    "done": outcome.done,
                    "failed": len(outcome.failed),
                    "cut_off": outcome.cut["max_tokens"],
                    "filtered": outcome.cut["filtered"],
                    "cached_turns": outcome.cached_turns,
                    "cost_usd": round(outcome.spent, 6),
                    "stopped_at_max_cost": outcome.stopped,
                }
            )
        )
    else:
        click.echo(outcome.run_id)
    if outcome.cut["max_tokens"]:
        click.echo(
            f"warning: {outcome.cut['max_tokens']} answers were cut off at the output token "
            "limit (stop_reason max_tokens): their labels rest on part of an answer; a larger "
            "--max-tokens makes a new run",
            err=True,
        )
    if outcome.cut["filtered"]:
        click.echo(
            f"warning: {outcome.cut['filtered']} answers were stopped by the provider's own "
            "safety filter (stop_reason filtered): what they hold is not the model's choice",
            err=True,
        )
    for dilemma_id, model, epoch, error in outcome.failed[:20]:
        click.echo(f"failed: {model} {dilemma_id} epoch {epoch}: {error}", err=True)
    if len(outcome.failed) > 20:
        click.echo(f"... and {len(outcome.failed) - 20} more failed", err=True)
    if any("Error code: 404" in error for *_, error in outcome.failed):
        click.echo(
            "hint: the server answered 404 Not Found: check the model's name and --base-url "
            "(OpenAI-compatible servers answer under /v1)",
            err=True,
        )
    if outcome.stopped:
        left = outcome.planned - outcome.skipped - outcome.done - len(outcome.failed)
        click.echo(
            f"stopped: the run has cost ${outcome.spent:.4f}, reaching --max-cost; {left} "
            "transcripts not started (rerun with a higher --max-cost to continue)",
            err=True,
        )
    if outcome.failed or outcome.stopped:
        sys.exit(1)


@main.command("runs")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
def runs_command(db: Path, as_json: bool) -> None:
    """List the runs in the store with their progress, oldest first: the ids `run --resume`,
    `classify`, `report` and `compare` take.

    \b
    Example:
      ihsim runs --db results/demo/ihsim.db
    """
    with open_store(db) as store:
        summaries = store.runs()
    if as_json:
        click.echo(json.dumps([_run_row(s) for s in summaries], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("run", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("models", no_wrap=True)
    table.add_column("settings", overflow="fold", min_width=16)
    for counted in ("done", "failed", "cost"):
        table.add_column(counted, justify="right", no_wrap=True)
    for summary in summaries:
        info = summary.info
        table.add_row(
            info.id,
            info.created_at[:16].replace("T", " "),
            "\n".join(info.models),
            "\n".join(_settings(info.params)),
            f"{summary.done}/{summary.planned}",
            str(summary.failed),
            f"${summary.cost:.2f}",
        )
    console = Console(soft_wrap=True)
    if not console.is_terminal:  # a pipe or file gets the whole table, as the report does
        console = Console(soft_wrap=True, width=140)
    console.print(table)


def _settings(params: dict[str, Any]) -> list[str]:
    """What a run asked of its models beyond `ihsim run`'s defaults, `-p` fields as given (where
    its key came from is not a setting)."""
    defaults = {option.name: option.default for option in run.params}
    shown = {
        k: v
        for k, v in sorted(params.items())
        if k not in ("extra", "api_key_env") and v != defaults.get(k)
    }
    shown |= params.get("extra", {})
    return [
        f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}"
        for k, v in shown.items()
    ]


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


COMMANDLINE = click.core.ParameterSource.COMMANDLINE
RUN_SHAPING = (
    "epochs",
    "seed",
    "max_turns",
    "temperature",
    "max_tokens",
    "extra",
    "base_url",
    "api_key_env",
    "timeout",
)


def _check_run_arguments(
    dilemma_file: Path | None, models: tuple[str, ...], resume: str | None
) -> None:
    """Either a dilemma file and models, or --resume RUN_ID, which keeps the run's own
    parameters (they are part of its id and of its cached requests)."""
    from conflicts.errors import ArgumentError

    ctx = click.get_current_context()
    if resume is None:
        if dilemma_file is None or not models:
            raise ArgumentError("give a dilemma file and at least one -m MODEL, or --resume RUN_ID")
        return
    if dilemma_file is not None or models:
        raise ArgumentError("--resume takes the run's own dilemmas and models; drop the others")
    for option in ctx.command.params:
        name = option.name or ""
        if name in RUN_SHAPING and ctx.get_parameter_source(name) is COMMANDLINE:
            flag = max(option.opts, key=len)
            raise ArgumentError(
                f"--resume keeps the parameters the run was started with; drop {flag}"
            )


@main.command()
@click.argument("run_id", required=False)
@db_option
@click.option(
    "--classifier",
    "classifier_name",
    type=click.Choice(["evidence", "rules", "judge", "both"]),
    default="evidence",
    show_default=True,
    help="rules (= evidence): the family's evidence; judge: LLM judges; both: the rules where "
    "decisive, the judges elsewhere, disagreements flagged.",
)
@click.option(
    "-j",
    "--judge",
    "judges",
    multiple=True,
    help="A judge model, e.g. anthropic/claude-sonnet-4-5 (repeatable: the judges vote).",
)
@click.option("--judge-base-url", help="Endpoint for openai-compatible/ judges.")
@click.option("--api-key-env", help="Read the judges' key from this variable.")
@click.option(
    "-c",
    "--connections",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Requests in flight per judge.",
)
@click.option(
    "-t",
    "--temperature",
    type=FloatOrNone(),
    default=0.0,
    show_default=True,
    help="The judges' temperature; `none` sends none (OpenAI's reasoning models take only "
    "their own).",
)
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), help="Seconds per judge request.")
@click.option("--no-cache", is_flag=True, help="Ask the judges again even if answered before.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def classify(
    run_id: str | None,
    db: Path,
    classifier_name: str,
    judges: tuple[str, ...],
    judge_base_url: str | None,
    api_key_env: str | None,
    connections: int,
    temperature: float | None,
    max_tokens: int,
    timeout: float | None,
    no_cache: bool,
    quiet: bool,
) -> None:
    """Label each transcript of a run per principal: comply, refuse or subvert.

    Stored transcripts are re-classified without re-running any model; each classifier's
    verdicts replace its own earlier ones.

    \b
    Example:
      ihsim classify            # the latest run, by the family's evidence rules
      ihsim classify --classifier both -j anthropic/claude-sonnet-4-5 -j openai/gpt-4.1
    """
    from conflicts.classify.classifiers import classify_run, get_classifier

    name = "evidence" if classifier_name == "rules" else classifier_name
    if name != "evidence" and not judges:
        raise InputError(f"--classifier {name} needs at least one --judge MODEL", loc=("judge",))
    if name == "evidence" and judges:
        raise InputError("--judge needs --classifier judge or both", loc=("judge",))
    params: dict[str, object] = {"temperature": temperature, "max_tokens": max_tokens}
    params.update(base_url=judge_base_url, api_key_env=api_key_env, timeout=timeout)
    params = {k: v for k, v in params.items() if v is not None}
    if judges:
        from conflicts.classify.judge_prompt import judge_provider

        for judge in dict.fromkeys(judges):
            judge_provider(judge, params)  # names and keys checked before anything is written
    with open_store(db) as store:
        info = store.run(run_id)
        if name in ("evidence", "both"):
            rules = get_classifier("evidence")
            outcome = classify_run(store, info.id, rules)
            click.echo(
                f"{info.id}: {outcome.verdicts} verdicts on {outcome.transcripts} transcripts "
                f"({rules.name} v{rules.version}); {outcome.skipped_errors} failed transcripts "
                "skipped",
                err=True,
            )
        if name == "evidence":
            return
        failed = _judge(
            store,
            info.id,
            list(dict.fromkeys(judges)),
            params,
            connections,
            not no_cache,
            quiet,
            with_rules=name == "both",
        )
    if failed:
        sys.exit(1)


def _judge(
    store: Any,
    run_id: str,
    judges: list[str],
    params: dict[str, object],
    connections: int,
    use_cache: bool,
    quiet: bool,
    with_rules: bool,
) -> int:
    """Ask every judge, store their vote (and the rules-then-judges verdict); the number of
    judge calls that failed after their retries."""
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from conflicts.classify.judge_prompt import VERSION, prompt_hash
    from conflicts.classify.judges import combine, judge_run
    from conflicts.providers.registry import sdk_modules
    from conflicts.providers.tls import build_aside
    from conflicts.run.garbage_collection import import_quietly

    build_aside()
    import_quietly(sdk_modules(judges))

    total = store.transcript_counts(run_id).get("ok", 0) * len(judges)
    console = Console(stderr=True)
    with Progress(
        "[bold]judging",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task("judging", total=total)
        asked = asyncio.run(
            judge_run(
                store,
                run_id,
                judges,
                params,
                connections,
                use_cache,
                on_done=lambda: progress.advance(task),
            )
        )
    combined = combine(store, run_id, judges, with_rules)
    panel = ", ".join(judges)
    click.echo(
        f"{run_id}: {asked.verdicts} verdicts from {len(judges)} judge(s) ({panel}; judge "
        f"v{VERSION}, prompt {prompt_hash()}); {asked.unreadable} unreadable answers kept as "
        f"unclear; {len(asked.failed)} judge calls failed",
        err=True,
    )
    if with_rules:
        click.echo(
            f"{run_id}: {combined.flagged} transcripts where the evidence rules and the judges "
            "disagree, flagged (review them with `ihsim label`)",
            err=True,
        )
    for transcript_id, judge, error in asked.failed[:20]:
        click.echo(f"failed: transcript {transcript_id} judge {judge}: {error}", err=True)
    return len(asked.failed)


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-f", "--family", "family_name", required=True, help="The family the transcripts answer."
)
@click.option(
    "-H",
    "--hierarchy",
    "hierarchy_name",
    default="model-spec",
    show_default=True,
    help="Preset name or YAML file.",
)
@click.option("-m", "--model", help="Model name for records that do not give one.")
@db_option
def import_command(
    file: Path, family_name: str, hierarchy_name: str, model: str | None, db: Path
) -> None:
    """Import transcripts made elsewhere: ihsim JSONL (ihsim.transcript/1, see the README) or
    Inspect AI logs (.eval, .json), placed in a family's dilemmas so `ihsim classify` can label
    them per principal. Prints the import's run id.

    \b
    Example:
      ihsim import logs/2026-11-01_task.eval --family confidential-instructions
      ihsim classify import-1a2b3c4d5e6f --classifier both -j anthropic/claude-sonnet-4-5
    """
    from conflicts.run.plan import file_sha256
    from conflicts.run.transcript_import import Catalogue, import_run, place
    from conflicts.scenarios.family import load_family
    from conflicts.scenarios.generate import check_compatible
    from hierarchy import load_hierarchy

    if not file.exists():
        raise InputError("no such file", file=str(file))
    family = load_family(family_name)
    loaded = load_hierarchy(hierarchy_name)
    check_compatible(family, loaded)
    placed = place(file, Catalogue(family, loaded), model)  # all checked before anything is written
    with open_store(db, must_exist=False) as store:
        info, added = import_run(store, file, placed, file_sha256(file), family.id, loaded.name)
    click.echo(
        f"{info.id}: {added} transcripts imported, {len(placed) - added} already there "
        f"({len(info.models)} models, {info.dilemma_count} dilemmas of {family.id})",
        err=True,
    )
    click.echo(info.id)


def _latest(store: Any, classifier: str) -> str:
    from conflicts.analysis.measures import latest_version

    version = latest_version(store, classifier)
    if version is None:
        raise InputError(
            f"no verdicts from {classifier!r}; run `ihsim classify` first", file=str(store.path)
        )
    return version


@main.command("validate")
@click.argument("gold_file", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@click.option(
    "--classifier",
    "classifier_name",
    default="evidence",
    show_default=True,
    help="evidence, judge, both, or one judge as judge:MODEL.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the agreement as JSON.")
def validate_command(gold_file: Path, db: Path, classifier_name: str, as_json: bool) -> None:
    """Compare a classifier's verdicts with human labels (ihsim.gold/1 JSONL, as `ihsim label`
    writes): accuracy, precision and recall per label, Cohen's kappa and the confusion matrix,
    per principal and overall.

    \b
    Example:
      ihsim validate results/gold.jsonl --classifier both
    """
    from conflicts.classify.gold import read_gold, validate

    gold = read_gold(gold_file)
    with open_store(db) as store:
        version = _latest(store, classifier_name)
        result = validate(store, gold, classifier_name, version)
    if not result.overall.n:
        raise InputError(
            f"none of the {len(gold)} gold labels has a {classifier_name!r} verdict in this "
            f"database ({result.missing_transcripts} transcripts not found)",
            file=str(gold_file),
        )
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    from rich.console import Console

    from conflicts.formats.terminal import agreement_tables

    console = Console() if Console().is_terminal else Console(width=120)
    for table in agreement_tables(result):
        console.print(table)


@main.command("label")
@click.argument("run_id", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("results") / "gold.jsonl",
    show_default=True,
    help="The gold file to append to.",
)
@db_option
@click.option(
    "--classifier",
    "classifier_name",
    default="evidence",
    show_default=True,
    help="Whose verdicts to show and order by (both: disagreements first).",
)
@click.option("--labeller", help="Your name or initials, kept with each label.")
@click.option("-n", "--limit", type=click.IntRange(min=1), help="Stop after this many transcripts.")
@click.option("-s", "--seed", type=int, default=0, show_default=True, help="Order of the rest.")
def label_command(
    run_id: str | None,
    output: Path,
    db: Path,
    classifier_name: str,
    labeller: str | None,
    limit: int | None,
    seed: int,
) -> None:
    """Review transcripts in the terminal and write gold labels: disagreements between the rules
    and the judges first, then unclear verdicts, then the rest. Stop any time (q); running it
    again skips what is already labelled.

    \b
    Example:
      ihsim label --classifier both --labeller ana -o results/gold.jsonl
    """
    from rich.console import Console

    from conflicts.classify.review import queue, review

    with open_store(db) as store:
        info = store.run(run_id)
        version = _latest(store, classifier_name)
        cases = queue(store, info.id, classifier_name, version, seed)
        console = Console(highlight=False)

        def ask(prompt: str) -> str:
            return str(click.prompt(prompt, default="", show_default=False))

        written = review(store, cases, output, ask, console, labeller, limit)
    click.echo(f"{written} labels written to {output}", err=True)


FORMATS = ("table", "md", "csv", "json", "html")


def _gather(db: Path, run_ids: tuple[str, ...], classifier_name: str) -> tuple[Any, Any]:
    """The store and the aggregate over these runs (the latest run when none is named)."""
    from conflicts.analysis.measures import aggregate, caveats

    store = open_store(db)
    try:
        infos = _selected_runs(store, run_ids)
        found = aggregate(store, [info.id for info in infos], classifier_name)
        found.caveats = caveats(store, infos)
        for warning in found.caveats:
            click.echo(f"warning: {warning}", err=True)
        return store, found
    except BaseException:
        store.close()
        raise


def _selected_runs(store: Any, run_ids: tuple[str, ...]) -> list[Any]:
    """The runs named, each once, or the latest run when none is."""
    unique = list(dict.fromkeys(run_ids))
    return [store.run(r) for r in unique] if unique else [store.run(None)]


def _check_groups(report: Any, wanted: tuple[str, ...], option: str) -> list[str]:
    known = report.groups()
    if "all" in wanted:
        return [g for g in known if option != "axis" or g != "family"]
    for group in wanted:
        if group not in known:
            raise InputError(
                f"no breakdown {group!r} in these verdicts (known: {', '.join(known)}, all)",
                loc=(option,),
            )
    return list(wanted)


@main.command()
@click.argument("run_ids", nargs=-1)
@db_option
@click.option("--classifier", "classifier_name", default="evidence", show_default=True)
@click.option(
    "-f", "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
@output_option
@click.option(
    "--by",
    multiple=True,
    help="Also break the table down by `family`, an axis, `tested`, `run` (runs pooled), or "
    "`all` (table, md).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Transcripts per label per cell in the HTML drill-down.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def report(
    run_ids: tuple[str, ...],
    db: Path,
    classifier_name: str,
    fmt: str,
    output: Path | None,
    by: tuple[str, ...],
    samples: int,
    as_json: bool,
) -> None:
    """Compare models: comply / refuse / subvert per principal with 95% intervals, covert
    share, hierarchy adherence, breakdowns by family, axis and test awareness.

    \b
    Example:
      ihsim report                                   # the latest run, in the terminal
      ihsim report run-1a2b run-3c4d -f html -o results/report.html
      ihsim report -f csv > verdicts.csv             # tidy rows for pandas
      ihsim report --by surveillance --by tested
    """
    from conflicts.analysis.comparisons import axis_effects, compare

    fmt = "json" if as_json else fmt
    store, found = _gather(db, run_ids, classifier_name)
    with store:
        groups = _check_groups(found, by, "by")
        differences = compare(found.cells)
        effects = axis_effects(found.cells)
        if fmt == "table":
            _print_tables(found, groups, output)
            return
        if fmt == "md":
            from conflicts.formats.markdown import markdown

            text = markdown(found, differences, effects)
        elif fmt == "csv":
            from conflicts.formats.tidy import as_csv

            text = as_csv(found)
        elif fmt == "json":
            from conflicts.formats.tidy import as_json as to_json

            text = to_json(found, differences, effects)
        else:
            from conflicts.analysis.drilldown import samples as drill
            from conflicts.formats.html import html_report

            shown = drill(store, found.runs, found.classifier, found.version, samples)
            text = html_report(found, differences, effects, shown)
    _emit(text, output)


def _print_tables(found: Any, groups: list[str], output: Path | None) -> None:
    from rich.console import Console

    from conflicts.atomic import atomic_file
    from conflicts.formats.terminal import report_tables

    if output is not None:
        with atomic_file(output) as handle:
            console = Console(file=handle, width=140, force_terminal=False)
            for table in report_tables(found, groups):
                console.print(table)
        click.echo(f"wrote {output}", err=True)
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    for table in report_tables(found, groups):
        console.print(table)


def _emit(text: str, output: Path | None) -> None:
    from conflicts.atomic import atomic_file

    if output is None:
        click.echo(text)
        return
    with atomic_file(output) as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    click.echo(f"wrote {output}", err=True)


@main.command("export")
@click.argument("run_ids", nargs=-1)
@click.option("--verdicts", is_flag=True, help="One row per verdict, not per transcript.")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "parquet"]),
    default=None,
    help="Default: the output's suffix, or jsonl.",
)
@output_option
@click.option("--classifier", default=None, help="With --verdicts: only this classifier's.")
@db_option
def export_command(
    run_ids: tuple[str, ...],
    verdicts: bool,
    fmt: str | None,
    output: Path | None,
    classifier: str | None,
    db: Path,
) -> None:
    """Export transcripts or verdicts row by row, with each dilemma's family and axes, for
    pandas, R or DuckDB (the latest run when none is named).

    \b
    Example:
      ihsim export -o results/transcripts.parquet
      ihsim export run-1a2b run-3c4d --verdicts -o results/verdicts.csv
      ihsim export --verdicts --classifier evidence | head -3
    """
    from conflicts.errors import ArgumentError
    from conflicts.formats.export import export, export_format

    if classifier is not None and not verdicts:
        raise ArgumentError("--classifier picks verdicts: add --verdicts", loc=("classifier",))
    chosen = export_format(output, fmt)
    with open_store(db) as store:
        runs = [info.id for info in _selected_runs(store, run_ids)]
        count = export(store.db, runs, verdicts, chosen, output, classifier, sys.stdout)
    if output is not None:
        what = "verdicts" if verdicts else "transcripts"
        click.echo(f"wrote {count} {what} to {output}", err=True)


@main.command("compare")
@click.argument("run_ids", nargs=-1)
@click.option("-m", "--model", "models", multiple=True, help="Only these models (repeatable).")
@click.option(
    "--axis",
    "axes",
    multiple=True,
    help="Within each model, compare the values of this axis (or `tested`, `run` when runs are "
    "pooled, or `all`).",
)
@db_option
@click.option("--classifier", "classifier_name", default="evidence", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Tidy JSON rows instead of sentences.")
def compare_command(
    run_ids: tuple[str, ...],
    models: tuple[str, ...],
    axes: tuple[str, ...],
    db: Path,
    classifier_name: str,
    as_json: bool,
) -> None:
    """Compare subversion rates between models, per principal, or with --axis between the values
    of an axis within each model; Fisher's exact test, Holm's correction over all comparisons.

    \b
    Example:
      ihsim compare                      # the latest run
      ihsim compare run-1a2b run-3c4d -m sim/schemer -m sim/deferential --json
      ihsim compare --axis surveillance --axis cue_strength
    """
    from conflicts.analysis.comparisons import axis_effects, compare

    store, found = _gather(db, run_ids, classifier_name)
    with store:
        chosen = list(models) or None
        if axes:
            differences = axis_effects(found.cells, _check_groups(found, axes, "axis"), chosen)
        else:
            differences = compare(found.cells, chosen)
    if as_json:
        click.echo(json.dumps([d.as_dict() for d in differences], indent=2))
        return
    if not differences:
        what = "values of that axis" if axes else "models"
        raise InputError(f"fewer than two {what} to compare", loc=("axis" if axes else "model",))
    for difference in differences:
        click.echo(difference.sentence())
