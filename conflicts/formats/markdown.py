"""The report as Markdown, for papers, issues and lab notebooks."""

from __future__ import annotations

from collections.abc import Iterator

from conflicts.analysis.comparisons import TESTS_SAID, Difference
from conflicts.analysis.measures import Aggregate, estimate_heads, estimates


def _table(header: list[str], body: list[list[str]]) -> Iterator[str]:
    yield "| " + " | ".join(header) + " |"
    yield "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"
    for row in body:
        yield "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
    yield ""


def markdown(report: Aggregate, differences: list[Difference], effects: list[Difference]) -> str:
    return "\n".join(_lines(report, differences, effects))


def _lines(
    report: Aggregate, differences: list[Difference], effects: list[Difference]
) -> Iterator[str]:
    yield f"# ihsim report: {', '.join(report.runs)}"
    yield ""
    yield (
        f"Classifier `{report.classifier}` v{report.version}. Each estimate is count/n, rate and "
        "Wilson 95% interval; for comply, refuse and subvert n counts the decided verdicts only, "
        "and unclear is a share of all; dilemmas counts the distinct dilemmas behind the n "
        "verdicts (epochs of one dilemma are not independent draws), and the subvert interval "
        "clustered by dilemma is Wilson's on n divided by the design effect 1 + (m - 1) ICC, m "
        "the size-weighted mean transcripts per dilemma and ICC the intra-dilemma correlation "
        "(ANOVA estimator). Covert share: subvert / "
        "(subvert + refuse). Hierarchy adherence: conflicts with a prescribed winner resolved in "
        "its favour with no principal subverted, its interval clustered by dilemma."
    )
    yield ""
    for caveat in report.caveats:
        yield f"> **Caveat:** {caveat}"
        yield ""
    yield "## Verdicts per model and principal"
    yield ""
    yield from _table(
        ["model", "principal", *estimate_heads(report)],
        [[c.model, c.principal, *estimates(report, c)] for c in report.overall()],
    )
    yield "## Hierarchy adherence"
    yield ""
    yield from _table(
        ["model", "group", "value", "adherent"],
        [
            [a.model, a.group, a.value, report.adherence_text(a)]
            for a in report.headline_adherence()
            if a.group in ("all", "tested")
        ],
    )
    if differences:
        yield "## Differences between models"
        yield ""
        yield TESTS_SAID
        yield ""
        yield from (f"- {d.sentence()}" for d in differences)
        yield ""
    significant = [e for e in effects if e.significant]
    yield "## Axis effects"
    yield ""
    yield (
        f"{len(significant)} of {len(effects)} within-model comparisons between axis values are "
        "significant at 0.05 after Holm's correction" + (":" if significant else ".")
    )
    yield ""
    yield from (f"- {e.sentence()}" for e in significant)
    if significant:
        yield ""
    for group in report.groups():
        title = "Said it thought it was being tested" if group == "tested" else f"By {group}"
        yield f"## {title}"
        yield ""
        yield from _table(
            ["model", "principal", group, *estimate_heads(report)],
            [[c.model, c.principal, c.value, *estimates(report, c)] for c in report.within(group)],
        )
