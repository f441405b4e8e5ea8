"""A revealed hierarchy for people (text), for Graphviz (dot) and for programs (json).

The one screen a researcher reads first: which edges depart from the prescribed hierarchy, and
how sure that is; the pairs and strengths follow."""

from __future__ import annotations

import json
from typing import Any

from conflicts.analysis.revealed import Edge, EdgeDifference, Revealed, p_text

RELATION_WORDS = {
    "agreed": "agrees",
    "inverted": "inverts the prescribed order",
    "missing": "prescribed; the data cannot tell",
    "takes_side": "takes a side where none is prescribed",
    "unordered": "unordered; takes no side",
    "no_prescription": "prescribed differently by scope",
}


def share_text(share: tuple[float, float, float]) -> str:
    rate, low, high = share
    return f"{rate:.0%} ({low:.0%}-{high:.0%})"


COLUMNS = (
    "relation",
    "pair",
    "prevailed: count (share, 95% CI)",
    "refused/neither",
    "undecided",
    "dilemmas",
    "Holm p",
    "prescribed above",
)


def _row(edge: Edge) -> tuple[str, ...]:
    """A pair as one row: the revealed winner first (`A > B`), or `A ? B` when none."""
    first, second = edge.first, edge.second
    shares = [(edge.first_won, edge.share_first), (edge.second_won, edge.share_second)]
    if edge.revealed == second:
        first, second = second, first
        shares.reverse()
    sign = ">" if edge.revealed else "?"
    won = " vs ".join(f"{n} ({rate:.0%}, {low:.0%}-{high:.0%})" for n, (rate, low, high) in shares)
    relation = edge.relation.replace("_", " ")
    return (
        relation.upper() if edge.relation in ("inverted", "takes_side") else relation,
        f"{first} {sign} {second}",
        won,
        f"{edge.both_refused}/{edge.neither}",
        str(edge.undecided),
        str(edge.dilemmas),
        p_text(edge.p_adjusted),
        {None: "none (unordered)", "": "mixed"}.get(edge.prescribed, str(edge.prescribed)),
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def as_text(found: list[Revealed]) -> str:
    """Per model, one table: the departures from the prescribed hierarchy first."""
    lines: list[str] = []
    order = {"inverted": 0, "takes_side": 1, "missing": 2}
    for revealed in found:
        counts = {r: sum(e.relation == r for e in revealed.edges) for r in RELATION_WORDS}
        said = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in counts.items() if n)
        lines.append(
            f"{revealed.model}: revealed hierarchy by {revealed.by}: {said} of "
            f"{len(revealed.edges)} pairs"
        )
        edges = sorted(revealed.edges, key=lambda e: (order.get(e.relation, 3), e.first, e.second))
        lines += _table([COLUMNS, *(_row(e) for e in edges)])
        if revealed.strengths:
            listed = ", ".join(
                f"{s.issuer} {s.strength:+.2f} ({s.low:+.2f} to {s.high:+.2f})"
                for s in revealed.strengths
            )
            lines.append(f"  Bradley-Terry strength (log-odds, sum zero, 95% CI): {listed}")
        elif revealed.note:
            lines.append(f"  no strengths: {revealed.note}")
        lines.append("")
    return "\n".join(lines).rstrip()


STYLE = {
    "agreed": 'color="black"',
    "inverted": 'color="red", penwidth=2',
    "takes_side": 'color="darkorange", penwidth=2',
}


def as_dot(found: list[Revealed]) -> str:
    """Each model's revealed edges (black where they agree with the prescribed hierarchy, red
    where they invert it, orange where it prescribes none) and the prescribed edges the data
    cannot confirm (grey, dashed), one cluster per model."""
    lines = ["digraph revealed {", "  rankdir=TB;", '  node [shape=box, style="rounded"];']
    for index, revealed in enumerate(found):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={json.dumps(revealed.model)};")
        for node in revealed.nodes():
            lines.append(f"    {json.dumps(f'{index}:{node}')} [label={json.dumps(node)}];")
        for edge in revealed.edges:
            ends = edge.winner_loser
            if ends is not None:
                label = f"{max(edge.share_first[0], edge.share_second[0]):.0%}"
                style = STYLE.get(edge.relation, 'color="black"')
                lines.append(
                    f"    {json.dumps(f'{index}:{ends[0]}')} -> {json.dumps(f'{index}:{ends[1]}')}"
                    f" [{style}, label={json.dumps(label)}];"
                )
            elif edge.relation == "missing" and edge.prescribed:
                other = edge.second if edge.prescribed == edge.first else edge.first
                lines.append(
                    f"    {json.dumps(f'{index}:{edge.prescribed}')} -> "
                    f"{json.dumps(f'{index}:{other}')}"
                    ' [color="grey", style=dashed, label="prescribed; not shown by the data"];'
                )
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines)


def as_json(found: list[Revealed], differences: list[EdgeDifference]) -> dict[str, Any]:
    return {
        "schema": "ihsim.revealed/1",
        "models": [r.as_dict() for r in found],
        "differences": [d.as_dict() for d in differences],
    }
