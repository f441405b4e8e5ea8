"""`ihsim hierarchy`, `ihsim families` and `ihsim generate`: principal graphs, scenario
families, and the dilemma sets rendered from them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import click

from conflicts.cli.options import (
    IhsimGroup,
    classifier_option,
    db_option,
    family_option,
    format_option,
    hierarchy_option,
    models_option,
    open_store,
    output_option,
    say,
    seed_option,
)
from hierarchy.errors import InputError

# hierarchy


@click.group(cls=IhsimGroup)
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
        say(f"{name:<18} {description}")


@hierarchy.command("show")
@click.argument("name_or_file")
@format_option(("text", "dot", "json"), "text")
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
        say(json.dumps(as_json(loaded), indent=2))
    else:
        say(as_dot(loaded) if fmt == "dot" else as_text(loaded))


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
    say(
        f"ok: {loaded.name}: {len(loaded.principals)} principals, "
        f"{len(loaded.spec.authority)} authority edges, {len(pairs)} unordered pairs"
    )


@hierarchy.command("reveal")
@click.argument("run_ids", nargs=-1)
@models_option("Only these models (repeatable); two of them are also compared edge by edge.")
@click.option(
    "--by",
    type=click.Choice(["principal", "channel", "claims"]),
    default="principal",
    show_default=True,
    help="What an issuer is: the principal whose authority a directive carries, that principal"
    " by the channel its words came through, or with the identity it claimed.",
)
@family_option("Only this family's conflicts (default: every conflict the runs hold).", False)
@format_option(("text", "dot", "json"), "text")
@db_option
@classifier_option(stored=True, help="Whose verdicts to read; one judge's as judge:MODEL.")
def hierarchy_reveal(
    run_ids: tuple[str, ...],
    models: tuple[str, ...],
    by: str,
    family_name: str | None,
    fmt: str,
    db: Path,
    classifier_name: str,
) -> None:
    """The hierarchy a model reveals: who prevails over whom in the conflicts it met.

    Per pair of issuers, how often each side's directive prevailed (complied with while the
    other was refused or subverted), tested with a score clustered by dilemma and Holm's
    correction; an edge where one side prevails significantly; Bradley-Terry strengths; and
    each pair set against the prescribed hierarchy (agreed, inverted, missing, or a side taken
    where none is prescribed). Generate with --swap-issuers for minimal pairs that separate who
    asked from what was asked.

    \b
    Examples:
      ihsim hierarchy reveal -m sim/literal
      ihsim hierarchy reveal run-1a2b --by channel --format dot | dot -Tsvg > revealed.svg
      ihsim hierarchy reveal -m sim/deferential -m sim/literal --format json
    """
    from conflicts.analysis.revealed import compare_revealed, pair_counts, reveal
    from conflicts.cli.reports import _selected_runs
    from conflicts.formats.revealed import as_dot, as_json, as_text

    with open_store(db) as store:
        runs = [info.id for info in _selected_runs(store, run_ids)]
        chosen = list(models) or None
        found = reveal(store, runs, classifier_name, by, chosen, family_name)  # type: ignore[arg-type]
        differences = []
        if len(models) == 2:
            counts = pair_counts(store, runs, classifier_name, by, chosen, family_name)  # type: ignore[arg-type]
            differences = compare_revealed(models[0], models[1], counts)
    if not found:
        raise InputError(
            "no conflict between two issuers has an outcome in these runs: classify them, or"
            " generate dilemmas whose conflicts set principals against each other",
            loc=("run",),
        )
    if fmt == "json":
        say(json.dumps(as_json(found, differences), indent=2))
    elif fmt == "dot":
        say(as_dot(found))
    else:
        say(as_text(found))
        for difference in differences:
            say(difference.sentence())


# families


@click.group(cls=IhsimGroup)
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
        say(f"{name:<28} {family.title}: axes {', '.join(family.axes)}")


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
    say(f"{family.id} (v{family.version}): {family.title}\n")
    say(" ".join(family.summary.split()) + "\n")
    say("principals: " + ", ".join(family.principals))
    for directive in family.directives:
        say(f"  {directive.id:<12} {directive.principal} {directive.kind}")
    for conflict in family.conflicts:
        say(f"conflict: {conflict.between[0]} vs {conflict.between[1]}")
    for axis, values in family.axes.items():
        say(f"axis {axis}: {', '.join(values)}")
    for tool in family.tools:
        when = f" (only when {tool.only_when})" if tool.only_when else ""
        say(f"tool {tool.name}: {tool.description.strip()}{when}")
    say(f"settings: {len(family.settings)}; moves: {', '.join(m.id for m in family.moves)}")


@families.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@hierarchy_option(
    None, "Hierarchy to render under (default: the first preset with its principals)."
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
    count, variants = check_family(family, hierarchy_name, str(file))
    swapped = f", and {variants} issuer-swap variants" if variants else ""
    say(f"ok: {family.id}: {count} dilemmas render{swapped}; every move is labelled as intended")


@click.command()
@family_option("Built-in name, YAML file, or 'all' (every built-in family the hierarchy can host).")
@hierarchy_option()
@click.option(
    "-a",
    "--axes",
    help="Axis values to cross, e.g. 'framing=*,cue_strength=subtle' (default: all).",
)
@click.option("--sample", type=click.IntRange(min=1), help="Keep a seeded sample of N dilemmas.")
@click.option(
    "--swap-issuers",
    is_flag=True,
    help="Beside each dilemma, its issuer-swap variants: the same directive, word for word, "
    "from another principal (the family's `swaps`), reported under the axis issuer_swap.",
)
@seed_option()
@output_option("The dilemma file to write (JSONL).", required=True)
def generate(
    family_name: str,
    hierarchy_name: str,
    axes: str | None,
    sample: int | None,
    swap_issuers: bool,
    seed: int,
    output: Path,
) -> None:
    """Generate a dilemma set (JSONL) from a family under a hierarchy.

    The same arguments always give byte-identical output.

    \b
    Examples:
      ihsim generate --family confidential-instructions --hierarchy model-spec \\
          --axes 'framing=*' --seed 7 -o results/dilemmas.jsonl
      ihsim generate --family all --swap-issuers -o results/swaps.jsonl
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
    if swap_issuers and not any(f.swaps for f in families):
        raise click.UsageError("--swap-issuers: no chosen family declares swaps")
    lines = family_set_lines(families, loaded, axes, seed, sample, swap_issuers)
    next_line = next(lines)  # axis errors surface here, before a file exists
    summary = write_jsonl(itertools.chain([next_line], lines), output)
    for reason in left_out:
        say(f"skipped: {reason}", err=True)
    say(f"wrote {summary.total} dilemmas to {output}", err=True)
    if len(summary.by_family) > 1:
        for family_id, count in sorted(summary.by_family.items()):
            say(f"  family {family_id}: {count}", err=True)
    for (axis, value), count in sorted(summary.by_axis.items()):
        say(f"  {axis}={value}: {count}", err=True)
