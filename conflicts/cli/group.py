"""The `ihsim` group: every command of the areas, under one name."""

from __future__ import annotations

import click

from conflicts.cli import estimate, labels, power, reports, runs, scenarios
from conflicts.cli.options import CONTEXT, IhsimGroup


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


for command in (
    scenarios.hierarchy,
    scenarios.families,
    scenarios.generate,
    runs.run,
    estimate.estimate_command,
    runs.smoke_command,
    runs.runs_command,
    runs.import_command,
    labels.classify,
    labels.label_command,
    labels.validate_command,
    reports.report,
    reports.compare_command,
    reports.export_command,
    power.power_command,
):
    main.add_command(command)
