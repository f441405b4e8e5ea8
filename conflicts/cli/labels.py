"""`ihsim classify`, `ihsim label` and `ihsim validate`: verdicts made by rules and judges,
labels from people, and how far the two agree."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from conflicts.cli.options import (
    BASE_URL,
    FloatOrNone,
    api_key_env_option,
    classifier_option,
    db_option,
    json_option,
    max_connections_option,
    max_tokens_option,
    no_cache_option,
    open_store,
    output_option,
    poll_interval_option,
    quiet_option,
    say,
    seed_option,
    table_console,
    temperature_option,
    timeout_option,
)
from hierarchy.errors import InputError


@click.command()
@click.argument("run_id", required=False)
@db_option
@classifier_option(stored=False, help="judge and both need --judge models.")
@click.option(
    "-j",
    "--judge",
    "judges",
    multiple=True,
    help="A judge model, e.g. anthropic/claude-sonnet-4-5 (repeatable: the judges vote).",
)
@click.option("--judge-base-url", type=BASE_URL, help="Endpoint for openai-compatible/ judges.")
@api_key_env_option("Read the judges' key from this variable.")
@max_connections_option(8, "Requests in flight per judge.")
@temperature_option(
    FloatOrNone(),
    0.0,
    "The judges' temperature; `none` sends none (OpenAI's reasoning models take only their own).",
)
@max_tokens_option(1024, "Output token limit per judge answer.")
@timeout_option("Seconds per judge request.")
@no_cache_option("Ask the judges again even if answered before.")
@click.option(
    "--batch",
    "batch_api",
    is_flag=True,
    help="Send the judges' requests through their providers' batch APIs (half the price), "
    "then judge from the answers collected. Rerun to resume.",
)
@poll_interval_option
@quiet_option
def classify(
    run_id: str | None,
    db: Path,
    classifier_name: str,
    judges: tuple[str, ...],
    judge_base_url: str | None,
    api_key_env: str | None,
    max_connections: int,
    temperature: float | None,
    max_tokens: int,
    timeout: float | None,
    no_cache: bool,
    batch_api: bool,
    poll_interval: float,
    quiet: bool,
) -> None:
    """Label each transcript of a run per principal: comply, refuse or subvert; without a run
    id, every run with finished transcripts the classifier has not labelled.

    Stored transcripts are re-classified without re-running any model; each classifier's
    verdicts replace its own earlier ones.

    \b
    Example:
      ihsim classify            # every run not yet classified, by the family's evidence rules
      ihsim classify --classifier both -j anthropic/claude-sonnet-4-5 -j openai/gpt-4.1
      ihsim classify --classifier judge -j anthropic/claude-sonnet-4-5 --batch
    """
    from conflicts.classify.classifiers import classify_run
    from conflicts.classify.registry import get_classifier

    chosen = get_classifier(classifier_name)
    if chosen.needs_judges and not judges:
        raise InputError(
            f"--classifier {chosen.name} needs at least one --judge MODEL", loc=("judge",)
        )
    if judges and not chosen.needs_judges:
        raise InputError("--judge needs --classifier judge or both", loc=("judge",))
    if batch_api and not judges:
        raise InputError("--batch sends judges' requests: give --judge MODEL", loc=("batch",))
    params: dict[str, object] = {"temperature": temperature, "max_tokens": max_tokens}
    params.update(base_url=judge_base_url, api_key_env=api_key_env, timeout=timeout)
    params = {k: v for k, v in params.items() if v is not None}
    if judges:
        from conflicts.classify.judge_prompt import check_judge

        for judge in dict.fromkeys(judges):
            check_judge(judge, params)  # names and keys checked before anything is written
    failed = 0
    with open_store(db) as store:
        for info in _runs_to_classify(store, run_id, chosen):
            offline = [chosen] if chosen.fn is not None else []
            if chosen.with_rules:  # `both`: the rules' verdicts first, for the judges to meet
                offline = [get_classifier("evidence")]
            for rules in offline:
                outcome = classify_run(store, info.id, rules)
                say(
                    f"{info.id}: {outcome.verdicts} verdicts on {outcome.transcripts} "
                    f"transcripts ({rules.name} v{rules.version}); {outcome.skipped_errors} "
                    "failed transcripts skipped",
                    err=True,
                )
            use_cache = not no_cache
            if chosen.needs_judges and batch_api:
                _judge_by_batch(
                    store,
                    info.id,
                    list(dict.fromkeys(judges)),
                    params,
                    use_cache,
                    poll_interval,
                    quiet,
                )
                use_cache = True  # the pass below reads what the batches collected
            if chosen.needs_judges:
                failed += _judge(
                    store,
                    info.id,
                    list(dict.fromkeys(judges)),
                    params,
                    max_connections,
                    use_cache,
                    quiet,
                    with_rules=chosen.with_rules,
                )
    if failed:
        sys.exit(1)


def _runs_to_classify(store: Any, run_id: str | None, chosen: Any) -> list[Any]:
    """The run named; without one, every run with finished transcripts this classifier has not
    labelled (the latest alone left earlier runs unclassified, silently), said by id; when
    every run is labelled, the latest again, as before (new judges, `--no-cache`)."""
    from conflicts.store.verdicts import classified_share

    if run_id is not None:
        return [store.run(run_id)]
    latest = store.run(None)
    every = store.run_ids()
    waiting = [
        run
        for run, total, labelled in classified_share(store, every, chosen.name, chosen.version)
        if labelled < total
    ]
    if len(waiting) > 1 or (waiting and waiting != [latest.id]):
        say(f"classifying the runs with unlabelled transcripts: {', '.join(waiting)}", err=True)
    return [store.run(run) for run in waiting] or [latest]


def _judge(
    store: Any,
    run_id: str,
    judges: list[str],
    params: dict[str, object],
    max_connections: int,
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
                max_connections,
                use_cache,
                on_done=lambda: progress.advance(task),
            )
        )
    combined = combine(store, run_id, judges, with_rules)
    panel = ", ".join(judges)
    say(
        f"{run_id}: {asked.verdicts} verdicts from {len(judges)} judge(s) ({panel}; judge "
        f"v{VERSION}, prompt {prompt_hash()}); {asked.unreadable} unreadable answers kept as "
        f"unclear; {len(asked.failed)} judge calls failed",
        err=True,
    )
    if with_rules:
        say(
            f"{run_id}: {combined.flagged} transcripts where the evidence rules and the judges "
            "disagree, flagged (review them with `ihsim label`)",
            err=True,
        )
    for transcript_id, judge, error in asked.failed[:20]:
        say(f"failed: transcript {transcript_id} judge {judge}: {error}", err=True)
    return len(asked.failed)


def _judge_by_batch(
    store: Any,
    run_id: str,
    judges: list[str],
    params: dict[str, object],
    use_cache: bool,
    poll_s: float,
    quiet: bool,
) -> None:
    """Every judge request the run needs, sent by batch and collected into the cache."""
    import asyncio

    from conflicts.classify.judge_batches import batch_judges
    from conflicts.providers.registry import sdk_modules
    from conflicts.run.garbage_collection import import_quietly

    import_quietly(sdk_modules(judges))

    def line(text: str) -> None:
        if not quiet:
            say(f"{run_id}: {text}", err=True)

    sent = asyncio.run(batch_judges(store, run_id, judges, params, use_cache, poll_s, say=line))
    say(
        f"{run_id}: {sent.sent} judge requests sent by batch, {sent.answered} answered, "
        f"{sent.failed} failed after their tries; ${sent.cost:.4f} at batch prices",
        err=True,
    )


def _latest(store: Any, classifier: str) -> str:
    from conflicts.store.verdicts import latest_version

    version = latest_version(store, classifier)
    if version is None:
        raise InputError(
            f"no verdicts from {classifier!r}; run `ihsim classify` first", file=str(store.path)
        )
    return version


@click.command("validate")
@click.argument("gold_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@db_option
@classifier_option(stored=True, help="Whose verdicts to compare; one judge's as judge:MODEL.")
@click.option(
    "--against",
    "other_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Another person's gold file: agreement between the two people instead.",
)
@click.option(
    "--scores",
    "scores_runs",
    metavar="RUN_ID",
    multiple=True,
    help="Instead of a gold file: an imported run's verdicts against the scores its source gave"
    " each sample (an Inspect log's scorers, a harness's own classifier). Repeatable.",
)
@json_option("Print the agreement as JSON.")
def validate_command(
    gold_file: Path | None,
    db: Path,
    classifier_name: str,
    other_file: Path | None,
    scores_runs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Compare a classifier's verdicts with human labels (ihsim.gold/1 JSONL, as `ihsim label`
    writes), or with --against two people's labels of the same transcripts: agreement and
    Cohen's kappa (95% interval) on the labels both sides decided, how often each said unclear,
    precision and recall per label and the confusion matrix, per principal and overall.

    \b
    Example:
      ihsim validate results/gold.jsonl --classifier both
      ihsim validate results/gold-ana.jsonl --against results/gold-ben.jsonl
      ihsim validate --scores import-1a2b3c4d5e6f      # against an Inspect log's own scorers
    """
    from conflicts.classify.gold import between_labellers, read_gold, validate
    from conflicts.errors import ArgumentError

    if scores_runs:
        if gold_file is not None or other_file is not None:
            raise ArgumentError("--scores compares with the source's scores: drop the gold file")
        _show_source_scores(db, scores_runs, classifier_name, as_json)
        return
    if gold_file is None:
        raise ArgumentError("give a gold file, or --scores RUN_ID")
    gold = read_gold(gold_file)
    if other_file is not None:
        names = (gold_file.stem, other_file.stem)
        if names[0] == names[1]:
            names = (str(gold_file), str(other_file))
        result = between_labellers(gold, read_gold(other_file), names)
        if not result.overall.n:
            raise InputError(
                "the two gold files label none of the same transcripts", file=str(other_file)
            )
        _show_agreement(result, as_json, people=True)
        return
    with open_store(db) as store:
        version = _latest(store, classifier_name)
        result = validate(store, gold, classifier_name, version)
    if not result.overall.n:
        raise InputError(
            f"none of the {len(gold)} gold labels has a {classifier_name!r} verdict in this "
            f"database ({result.missing_transcripts} transcripts not found)",
            file=str(gold_file),
        )
    _show_agreement(result, as_json, people=False)


def _show_source_scores(db: Path, runs: tuple[str, ...], classifier: str, as_json: bool) -> None:
    from conflicts.analysis.source_scores import score_tables

    with open_store(db) as store:
        for run_id in runs:
            store.run(run_id)  # a run that is not there is an error, named
        version = _latest(store, classifier)
        tables = score_tables(store, list(runs), classifier, version)
    if not tables:
        raise InputError(
            f"no {classifier!r} verdicts on transcripts whose source gave scores in "
            f"{', '.join(runs)} (import a log with scores, then `ihsim classify`)",
            file=str(db),
        )
    if as_json:
        rows = [row for table in tables for row in table.as_rows()]
        say(json.dumps({"classifier": classifier, "version": version, "rows": rows}, indent=2))
        return
    from conflicts.formats.terminal import score_tables as shown

    console = table_console()
    for table in shown(tables, classifier, version):
        console.print(table)


def _show_agreement(result: Any, as_json: bool, people: bool) -> None:
    if as_json:
        say(json.dumps(result.as_dict(), indent=2))
        return

    from conflicts.formats.terminal import agreement_tables

    console = table_console()
    for table in agreement_tables(result, people):
        console.print(table)


@click.command("label")
@click.argument("run_id", required=False)
@output_option("The gold file to append to.", default=Path("results") / "gold.jsonl")
@db_option
@classifier_option(
    stored=True, help="Whose verdicts to show and order by (both: disagreements first)."
)
@click.option("--labeller", help="Your name or initials, kept with each label.")
@click.option("-n", "--limit", type=click.IntRange(min=1), help="Stop after this many transcripts.")
@click.option(
    "--blind",
    is_flag=True,
    help="Hide the classifier's labels and evidence, and take transcripts in a seeded random "
    "order, so they cannot anchor the person's label.",
)
@seed_option("Order of the rest.")
def label_command(
    run_id: str | None,
    output: Path,
    db: Path,
    classifier_name: str,
    labeller: str | None,
    limit: int | None,
    blind: bool,
    seed: int,
) -> None:
    """Review transcripts in the terminal and write gold labels: disagreements between the rules
    and the judges first, then unclear verdicts, then the rest. A person may say unclear (u).
    Stop any time (q); running it again skips what is already labelled.

    \b
    Example:
      ihsim label --classifier both --labeller ana -o results/gold.jsonl
      ihsim label --blind --labeller ben -o results/gold-ben.jsonl
    """
    from rich.console import Console

    from conflicts.atomic import existing_mode
    from conflicts.classify.review import queue, review

    existing_mode(output)  # a device or a folder is refused before the first question
    with open_store(db) as store:
        info = store.run(run_id)
        version = _latest(store, classifier_name)
        cases = queue(store, info.id, classifier_name, version, seed, by_priority=not blind)
        console = Console(highlight=False)

        def ask(prompt: str) -> str:
            return str(click.prompt(prompt, default="", show_default=False))

        written = review(store, cases, output, ask, console, labeller, limit, blind)
    say(f"{written} labels written to {output}", err=True)
