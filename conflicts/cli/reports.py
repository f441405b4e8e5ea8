"""`ihsim report`, `ihsim compare` and `ihsim export`: the measurements, the tests between
them, and the store's rows for analysis elsewhere."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from conflicts.cli.options import (
    classifier_option,
    db_option,
    format_option,
    hidden_alias,
    json_option,
    models_option,
    open_store,
    output_option,
    say,
    table_console,
)
from hierarchy.errors import InputError

FORMATS = ("table", "md", "csv", "json", "html")
EXPORTS = ("jsonl", "csv", "parquet")


def gather(
    db: Path, run_ids: tuple[str, ...], classifier_name: str, paired: list[str] | None = None
) -> tuple[Any, Any]:
    """The store and the aggregate over these runs (the latest run when none is named), with
    what paired tests need for the axes in `paired`."""
    from concurrent.futures import ThreadPoolExecutor

    from conflicts.analysis.measures import aggregate, caveats_aside, undecided
    from conflicts.analysis.pairings import strata_aside

    store = open_store(db)
    try:
        infos = _selected_runs(store, run_ids)
        runs = [info.id for info in infos]
        # what needs only the store is read on other threads, beside the report's tables:
        # SQLite runs without the GIL, and the SciPy the tests need is imported meanwhile
        with ThreadPoolExecutor(max_workers=3) as pool:
            stored = caveats_aside(db, infos, classifier_name, pool)
            strata = strata_aside(db, runs, pool) if paired else None
            if paired is not None:
                pool.submit(importlib.import_module, "scipy.stats")
            found = aggregate(store, runs, classifier_name, paired, strata)
            said = stored.result()
        found.caveats = _left_out(store, infos, run_ids) + said + undecided(found)
        for warning in found.caveats:
            say(f"warning: {warning}", err=True)
        return store, found
    except BaseException:
        store.close()
        raise


def _selected_runs(store: Any, run_ids: tuple[str, ...]) -> list[Any]:
    """The runs named, each once, or the latest run when none is."""
    unique = list(dict.fromkeys(run_ids))
    return [store.run(r) for r in unique] if unique else [store.run(None)]


def _left_out(store: Any, infos: list[Any], run_ids: tuple[str, ...]) -> list[str]:
    """When no run is named, which one is reported, and that the store holds others."""
    if run_ids:
        return []
    others = [run for run in store.run_ids() if run != infos[0].id]
    if not others:
        return []
    listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    return [
        f"only the latest run, {infos[0].id}, is reported; the store holds {len(others)} "
        f"other run(s) ({listed}): name the runs to report them"
    ]


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


@click.command()
@click.argument("run_ids", nargs=-1)
@db_option
@classifier_option(stored=True, help="Whose verdicts to report; one judge's as judge:MODEL.")
@format_option(FORMATS, "table")
@hidden_alias("-f", to="fmt", type=click.Choice(FORMATS))
@output_option()
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
@click.option(
    "--correct-with",
    "gold_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A gold file (as `ihsim label` writes): beside each rate, the rate corrected for the "
    "classifier's error measured against it (Rogan-Gladen), with an interval that carries the "
    "gold set's own uncertainty.",
)
@json_option("Same as --format json.")
def report(
    run_ids: tuple[str, ...],
    db: Path,
    classifier_name: str,
    fmt: str,
    output: Path | None,
    by: tuple[str, ...],
    samples: int,
    gold_file: Path | None,
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
      ihsim report --correct-with results/gold.jsonl
    """
    from conflicts.analysis.comparisons import axis_effects, compare

    fmt = "json" if as_json else fmt
    gold = None
    if gold_file is not None:  # a bad gold file fails before any work
        from conflicts.classify.gold import read_gold

        gold = read_gold(gold_file)
    store, found = gather(db, run_ids, classifier_name, None if fmt == "table" else ["all"])
    with store:
        groups = _check_groups(found, by, "by")
        if gold is not None and gold_file is not None:
            found.correction = _correction(store, found, gold, gold_file)
            found.caveats.append(found.correction.said())
            say(f"note: {found.correction.said()}", err=True)
        if fmt == "table":  # its tables print no comparison: none is computed
            _print_tables(found, groups, output)
            return
        differences = compare(found)
        effects = axis_effects(found)
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
            from conflicts.analysis.revealed import reveal
            from conflicts.formats.html import html_report

            shown = drill(store, found.runs, found.classifier, found.version, samples)
            revealed = reveal(store, found.runs, found.classifier)
            text = html_report(found, differences, effects, shown, revealed)
    _emit(text, output)


def _compare_revealed(
    run_ids: tuple[str, ...], models: tuple[str, ...], db: Path, classifier: str, as_json: bool
) -> None:
    """Every two models' revealed hierarchies, edge by edge (`ihsim hierarchy reveal`)."""
    from itertools import combinations

    from conflicts.analysis.revealed import adjusted, compare_revealed, pair_counts

    with open_store(db) as store:
        runs = [info.id for info in _selected_runs(store, run_ids)]
        counts = pair_counts(store, runs, classifier, models=list(models) or None)
    chosen = [m for m in models if m in counts] if models else sorted(counts)
    if len(chosen) < 2:
        raise InputError("fewer than two models with conflicts to compare", loc=("model",))
    differences = adjusted(
        [d for a, b in combinations(chosen, 2) for d in compare_revealed(a, b, counts)]
    )
    if as_json:
        say(json.dumps([d.as_dict() for d in differences], indent=2))
        return
    for difference in differences:
        say(difference.sentence())


def _correction(store: Any, found: Any, gold: list[Any], gold_file: Path) -> Any:
    """The classifier's error against the gold labels, for the report's corrected rates."""
    from conflicts.analysis.correction import Correction, confusions
    from conflicts.classify.gold import validate

    measured = validate(store, gold, found.classifier, found.version)
    decided = measured.overall.decided
    if not decided:
        raise InputError(
            f"none of the {len(gold)} gold labels has a decided {found.classifier!r} "
            f"v{found.version} verdict to measure its error by ({measured.missing_transcripts} "
            "transcripts not found)",
            file=str(gold_file),
        )
    return Correction(gold_file, len(decided), confusions(decided))


def _print_tables(found: Any, groups: list[str], output: Path | None) -> None:
    from conflicts.atomic import atomic_file
    from conflicts.formats.terminal import report_tables

    if output is not None:
        with atomic_file(output) as handle:
            console = table_console(handle)
            for table in report_tables(found, groups):
                console.print(table)
        say(f"wrote {output}", err=True)
        return
    console = table_console()
    for table in report_tables(found, groups):
        console.print(table)


def _emit(text: str, output: Path | None) -> None:
    from conflicts.atomic import atomic_file

    if output is None:
        say(text)
        return
    with atomic_file(output) as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    say(f"wrote {output}", err=True)


@click.command("export")
@click.argument("run_ids", nargs=-1)
@click.option("--verdicts", is_flag=True, help="One row per verdict, not per transcript.")
@format_option(EXPORTS, None, "Default: the output's suffix, or jsonl.")
@hidden_alias("-f", to="fmt", type=click.Choice(EXPORTS))
@output_option()
@classifier_option(stored=True, default=None, help="With --verdicts: only this classifier's.")
@db_option
def export_command(
    run_ids: tuple[str, ...],
    verdicts: bool,
    fmt: str | None,
    output: Path | None,
    classifier_name: str | None,
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

    if classifier_name is not None and not verdicts:
        raise ArgumentError("--classifier picks verdicts: add --verdicts", loc=("classifier",))
    chosen = export_format(output, fmt)
    with open_store(db) as store:
        infos = _selected_runs(store, run_ids)
        for warning in _left_out(store, infos, run_ids):
            say(f"warning: {warning}", err=True)
        runs = [info.id for info in infos]
        count = export(store.db, runs, verdicts, chosen, output, classifier_name, sys.stdout)
    if output is not None:
        what = "verdicts" if verdicts else "transcripts"
        say(f"wrote {count} {what} to {output}", err=True)


@click.command("compare")
@click.argument("run_ids", nargs=-1)
@models_option("Only these models (repeatable).")
@click.option(
    "--axis",
    "axis_names",
    multiple=True,
    help="Within each model, compare the values of this axis (or `tested`, `run` when runs are "
    "pooled, or `all`).",
)
@click.option(
    "--revealed",
    is_flag=True,
    help="Compare the models' revealed hierarchies edge by edge instead: per pair of "
    "principals, who prevails, tested on the dilemmas both models ran.",
)
@db_option
@classifier_option(stored=True, help="Whose verdicts to compare; one judge's as judge:MODEL.")
@json_option("Tidy JSON rows instead of sentences.")
def compare_command(
    run_ids: tuple[str, ...],
    models: tuple[str, ...],
    axis_names: tuple[str, ...],
    revealed: bool,
    db: Path,
    classifier_name: str,
    as_json: bool,
) -> None:
    """Compare subversion rates between models, per principal, or with --axis between the values
    of an axis within each model. Arms on the same dilemmas are tested as paired data
    (McNemar's exact test, or Cochran-Mantel-Haenszel's over dilemmas with epochs), others with
    Fisher's exact test; Holm's correction over all comparisons. Each line names its test.

    \b
    Example:
      ihsim compare                      # the latest run
      ihsim compare run-1a2b run-3c4d -m sim/schemer -m sim/deferential --json
      ihsim compare --axis surveillance --axis cue_strength
      ihsim compare --revealed -m sim/literal -m sim/deferential
    """
    from conflicts.analysis.comparisons import axis_effects, compare

    if revealed:
        _compare_revealed(run_ids, models, db, classifier_name, as_json)
        return

    store, found = gather(db, run_ids, classifier_name, list(axis_names))
    with store:
        chosen = list(models) or None
        if axis_names:
            differences = axis_effects(found, _check_groups(found, axis_names, "axis"), chosen)
        else:
            differences = compare(found, chosen)
    if as_json:
        say(json.dumps([d.as_dict() for d in differences], indent=2))
        return
    if not differences:
        what = "values of that axis" if axis_names else "models"
        raise InputError(
            f"fewer than two {what} to compare", loc=("axis" if axis_names else "model",)
        )
    for difference in differences:
        say(difference.sentence())
