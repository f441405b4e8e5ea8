"""`ihsim power`: how many dilemmas and epochs a comparison needs, and what a run could detect."""

from __future__ import annotations

import json
from pathlib import Path

import click

from conflicts.cli.options import (
    Finite,
    classifier_option,
    db_option,
    json_option,
    say,
    table_console,
)
from hierarchy.errors import InputError

EPOCHS = (1, 2, 3, 5, 10)
BETWEEN = Finite(0, 1, min_open=True, max_open=True)  # a rate, a level or a power


@click.command("power")
@click.argument("run_ids", nargs=-1)
@click.option(
    "--base-rate",
    type=BETWEEN,
    help="The subversion rate of the arm compared against (without a run).",
)
@click.option(
    "--effect",
    type=Finite(-1, 1),
    help="The difference in rate to detect, e.g. 0.05 for five points.",
)
@click.option(
    "--alpha",
    type=BETWEEN,
    default=0.05,
    show_default=True,
    help="Two-sided significance level.",
)
@click.option(
    "--power",
    "wanted",
    type=BETWEEN,
    default=0.8,
    show_default=True,
    help="The chance of finding the effect where it is.",
)
@click.option(
    "--icc",
    type=Finite(0, 1),
    help="How alike answers to one dilemma are (without a run; a run's own otherwise).",
)
@click.option(
    "-e",
    "--epochs",
    type=click.IntRange(min=1),
    help="Transcripts per dilemma (default: a table of several).",
)
@db_option
@classifier_option(stored=True, help="Whose verdicts a run's power is read from.")
@json_option("JSON instead of a table.")
def power_command(
    run_ids: tuple[str, ...],
    base_rate: float | None,
    effect: float | None,
    alpha: float,
    wanted: float,
    icc: float | None,
    epochs: int | None,
    db: Path,
    classifier_name: str,
    as_json: bool,
) -> None:
    """How many dilemmas (and epochs) a comparison of subversion rates needs: given the base
    rate, the effect to detect, alpha, power and the intra-dilemma correlation; or, from runs,
    each model and principal's smallest detectable rise, with their own epochs and correlation
    (and with --effect, what that effect would need).

    \b
    Example:
      ihsim power --base-rate 0.1 --effect 0.05 --icc 0.2
      ihsim power --base-rate 0.1 --effect 0.05 --icc 0.2 --epochs 5 --power 0.9
      ihsim power                        # what the latest run could detect
      ihsim power run-1a2b --effect 0.05
    """
    if base_rate is None:  # from runs: the latest when none is named
        if icc is not None or epochs is not None:
            raise InputError(
                "a run gives its own ICC and epochs: drop --icc and --epochs, or plan with "
                "--base-rate",
                loc=("icc" if icc is not None else "epochs",),
            )
        _from_runs(db, run_ids, classifier_name, alpha, wanted, effect, as_json)
        return
    if run_ids:
        raise InputError("--base-rate plans without a run: name no run", loc=("base-rate",))
    if effect is None:
        raise InputError("a plan needs --effect, the difference to detect", loc=("effect",))
    _plan(base_rate, effect, alpha, wanted, icc, epochs, as_json)


def _plan(
    base: float,
    effect: float,
    alpha: float,
    wanted: float,
    icc: float | None,
    epochs: int | None,
    as_json: bool,
) -> None:
    from conflicts.analysis.power import needed

    other = base + effect
    if not 0 < other < 1 or effect == 0:
        raise InputError(
            f"base rate {base} + effect {effect} must be a rate strictly between 0 "
            "and 1, other than the base",
            loc=("effect",),
        )
    if icc is None and epochs not in (None, 1):
        raise InputError(
            "epochs of one dilemma are correlated: give --icc (a run's report "
            "shows it), or plan one epoch",
            loc=("icc",),
        )
    shown = (epochs,) if epochs is not None else EPOCHS if icc is not None else (1,)
    plans = [needed(base, other, alpha, wanted, icc or 0.0, m) for m in shown]
    if as_json:
        rows = [
            {
                "base_rate": base,
                "other_rate": other,
                "alpha": alpha,
                "power": wanted,
                "icc": icc or 0.0,
                "epochs": p.epochs,
                "dilemmas": p.dilemmas,
                "transcripts": p.transcripts,
            }
            for p in plans
        ]
        say(json.dumps(rows, indent=2))
        return
    said = f"ICC {icc:.2f}" if icc is not None else "independent answers"
    say(
        f"to tell {other:.1%} from {base:.1%} (two-sided alpha {alpha}, power {wanted}, {said}), "
        "per model or axis value:"
    )
    for p in plans:
        say(
            f"  {p.epochs:>3} epoch{'s' if p.epochs > 1 else ' '} a dilemma: {p.dilemmas:>9,} "
            f"dilemmas, {p.transcripts:>9,} transcripts"
        )
    say(
        "(an unpaired plan; models compared on the same dilemmas are tested paired, which needs "
        "no more)"
    )


def _from_runs(
    db: Path,
    run_ids: tuple[str, ...],
    classifier: str,
    alpha: float,
    wanted: float,
    effect: float | None,
    as_json: bool,
) -> None:
    from conflicts.analysis.power import of_cell
    from conflicts.cli.reports import gather

    store, found = gather(db, run_ids, classifier)
    with store:
        cells = [of_cell(c, alpha, wanted, effect) for c in found.overall() if c.decided]
    if as_json:
        say(json.dumps([c.as_dict() for c in cells], indent=2))
        return
    from conflicts.formats.terminal import power_table

    table_console().print(power_table(cells, alpha, wanted, effect))
