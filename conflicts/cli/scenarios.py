"""`ihsim hierarchy`, `ihsim families` and `ihsim generate`: principal graphs, scenario
families, and the dilemma sets rendered from them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import click

from conflicts.cli.options import (
    IhsimGroup,
    family_option,
    format_option,
    hierarchy_option,
    output_option,
    say,
    seed_option,
)

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
    count = check_family(family, hierarchy_name, str(file))
    say(f"ok: {family.id}: {count} dilemmas render; every move is labelled as intended")


@click.command()
@family_option("Built-in name, YAML file, or 'all' (every built-in family the hierarchy can host).")
@hierarchy_option()
@click.option(
    "-a",
    "--axes",
    help="Axis values to cross, e.g. 'framing=*,cue_strength=subtle' (default: all).",
)
@click.option("--sample", type=click.IntRange(min=1), help="Keep a seeded sample of N dilemmas.")
@seed_option()
@output_option("The dilemma file to write (JSONL).", required=True)
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
        say(f"skipped: {reason}", err=True)
    say(f"wrote {summary.total} dilemmas to {output}", err=True)
    if len(summary.by_family) > 1:
        for family_id, count in sorted(summary.by_family.items()):
            say(f"  family {family_id}: {count}", err=True)
    for (axis, value), count in sorted(summary.by_axis.items()):
        say(f"  {axis}={value}: {count}", err=True)
