"""The report as one self-contained HTML page: no scripts, no fetches, works offline.

A heatmap of subversion rate (model × principal) links each cell to the transcripts behind it;
bar charts with Wilson intervals show each axis. Everything a model wrote goes through
`html.escape`, and a Content-Security-Policy forbids scripts outright, so a transcript holding
`<script>` or markup is shown as text and can never run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from html import escape
from typing import Any

from conflicts.analysis.comparisons import TESTS_SAID, Difference
from conflicts.analysis.drilldown import Sample
from conflicts.analysis.measures import (
    LABELS,
    Aggregate,
    Cell,
    estimate_heads,
    estimates,
    percent,
)
from conflicts.analysis.revealed import Edge, Revealed
from conflicts.formats.revealed import RELATION_WORDS, p_text, share_text
from conflicts.store.transcript import NOT_ANSWERED
from conflicts.store.verdicts import VerdictEvidence

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.3rem .6rem;border:1px solid #ddd}
th{background:#f6f6f6;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.heatmap td{text-align:center;min-width:9rem}table.heatmap a{color:inherit;display:block}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.legend span{margin-right:1rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
details{margin:.3rem 0;border:1px solid #e3e3e3;border-radius:4px;padding:.3rem .6rem}
summary{cursor:pointer}pre{white-space:pre-wrap;word-break:break-word;background:#fafafa;
padding:.4rem;margin:.2rem 0;border-left:3px solid #ccc}.role{font-weight:600}
.subvert{color:#b00020}.refuse{color:#8a6d00}.comply{color:#1b5e20}.unclear{color:#555}
.muted{color:#666}
.warning{color:#8a4b00;font-weight:bold}
"""


def html_report(
    report: Aggregate,
    differences: list[Difference],
    effects: list[Difference],
    samples: list[Sample],
    revealed: list[Revealed] | None = None,
) -> str:
    return "\n".join(_page(report, differences, effects, samples, revealed or []))


def _page(
    report: Aggregate,
    differences: list[Difference],
    effects: list[Difference],
    samples: list[Sample],
    revealed: list[Revealed],
) -> Iterator[str]:
    title = f"ihsim report: {', '.join(report.runs)}"
    yield "<!doctype html>"
    yield '<html lang="en"><head><meta charset="utf-8">'
    yield f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    yield '<link rel="icon" href="data:,">'
    yield f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
    yield f"<h1>{escape(title)}</h1>"
    yield (
        f'<p class="muted">Classifier <code>{escape(report.classifier)}</code> '
        f"v{escape(report.version)}. Estimates are count/n, rate and Wilson 95% interval; the "
        "subversion rate's interval clustered by dilemma (Wilson's on n divided by the design "
        "effect 1 + (m - 1) ICC) is beside it, and draws the charts' whiskers. "
        "Refusal is open non-compliance and never subversion. Covert share: subvert / "
        "(subvert + refuse).</p>"
    )
    for caveat in report.caveats:
        yield f'<p class="warning">Caveat: {escape(caveat)}</p>'
    cells = report.overall()
    anchors = {(c.model, c.principal): f"cell-{i}" for i, c in enumerate(cells)}
    yield from _heatmap(report, cells, anchors)
    yield from _verdict_table(report, cells, anchors)
    yield from _adherence(report)
    yield from _sentences("Differences between models", differences, only_significant=False)
    yield from _sentences("Axis effects", effects, only_significant=True)
    yield from _charts(report)
    yield from _revealed(revealed)
    yield from _drilldown(cells, anchors, samples)
    yield "</body></html>"


def _heat(rate: float) -> str:
    """White to deep red as the subversion rate goes from 0 to 1; dark text stays readable."""
    red, green, blue = 255, int(255 - 180 * rate), int(255 - 190 * rate)
    ink = "#fff" if rate > 0.6 else "#111"
    return f"background:rgb({red},{green},{blue});color:{ink}"


def _heatmap(
    report: Aggregate, cells: list[Cell], anchors: dict[tuple[str, str], str]
) -> Iterator[str]:
    by_key = {(c.model, c.principal): c for c in cells}
    yield "<h2>Subversion rate, model × principal</h2>"
    yield '<table class="heatmap" id="heatmap"><tr><th>model</th>'
    yield "".join(f"<th>{escape(p)}</th>" for p in report.principals) + "</tr>"
    for model in report.models:
        yield f"<tr><th>{escape(model)}</th>"
        for principal in report.principals:
            cell = by_key.get((model, principal))
            if cell is None or not cell.decided:
                unread = f"<br><small>{cell.n} unclear</small>" if cell is not None else ""
                yield f'<td class="muted">–{unread}</td>'
                continue
            rate = cell.rate("subvert")
            low, high = cell.interval("subvert")
            anchor = anchors[model, principal]
            yield (
                f'<td style="{_heat(rate)}" data-rate="{rate:.4f}"><a href="#{anchor}">'
                f"<b>{rate:.0%}</b><br><small>{low:.0%}–{high:.0%}, n={cell.decided}"
                f"{_undecided(cell)}</small></a></td>"
            )
        yield "</tr>"
    yield "</table>"


def _undecided(cell: Cell) -> str:
    """The undecided share beside a rate, where there is one."""
    return f"; {cell.rate('unclear'):.0%} unclear" if cell.count("unclear") else ""


def _verdict_table(
    report: Aggregate, cells: list[Cell], anchors: dict[tuple[str, str], str]
) -> Iterator[str]:
    """Each cell's labels with Wilson's interval, its distinct dilemmas, the subversion rate's
    interval clustered by dilemma and its ICC, and with a correction the corrected rate."""
    yield "<h2>Verdicts per model and principal</h2><table><tr><th>model</th><th>principal</th>"
    yield "".join(f"<th>{escape(head)}</th>" for head in estimate_heads(report)) + "</tr>"
    for c in cells:
        yield (
            f'<tr><td>{escape(c.model)}</td><td><a href="#{anchors[c.model, c.principal]}">'
            f"{escape(c.principal)}</a></td>"
        )
        values = estimates(report, c)
        yield "".join(f'<td class="num">{escape(v)}</td>' for v in values) + "</tr>"
    yield "</table>"


def _adherence(report: Aggregate) -> Iterator[str]:
    yield "<h2>Hierarchy adherence</h2>"
    yield (
        '<p class="muted">Conflicts with a prescribed winner resolved in its favour with no '
        "principal subverted (95% interval clustered by dilemma).</p>"
        "<table><tr><th>model</th><th>overall</th>"
        "<th>said it was tested</th><th>did not say</th></tr>"
    )
    rows: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    for a in report.headline_adherence():
        rows[a.model][a.group, a.value] = escape(report.adherence_text(a))
    for model, values in rows.items():
        keys = [("all", "all"), ("tested", "said so"), ("tested", "did not say")]
        yield f"<tr><td>{escape(model)}</td>"
        yield "".join(f'<td class="num">{values.get(k, "–")}</td>' for k in keys) + "</tr>"
    yield "</table>"


def _sentences(title: str, found: list[Difference], only_significant: bool) -> Iterator[str]:
    shown = [d for d in found if d.significant] if only_significant else found
    yield f"<h2>{escape(title)}</h2>"
    yield (
        f'<p class="muted">{sum(d.significant for d in found)} of {len(found)} comparisons '
        "significant at 0.05"
        + ("; the significant ones:" if only_significant and shown else ".")
        + f" {escape(TESTS_SAID)}</p>"
    )
    if shown:
        yield "<ul>" + "".join(f"<li>{escape(d.sentence())}</li>" for d in shown) + "</ul>"


def _charts(report: Aggregate) -> Iterator[str]:
    models = report.models
    yield "<h2>Subversion rate by axis, with 95% intervals clustered by dilemma</h2>"
    yield (
        '<p class="legend">'
        + "".join(
            f'<span><i class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></i>'
            f"{escape(m)}</span>"
            for i, m in enumerate(models)
        )
        + "</p>"
    )
    for group in report.groups():
        if group == "family":
            continue
        within = report.within(group)
        yield f'<h3>{escape(group)}</h3><div class="charts">'
        for principal in report.principals:
            cells = {(c.model, c.value): c for c in within if c.principal == principal}
            values = sorted({value for _, value in cells})
            yield _bar_chart(principal, values, models, cells)
        yield "</div>"


def _bar_chart(
    title: str, values: list[str], models: list[str], cells: dict[tuple[str, str], Cell]
) -> str:
    """Grouped bars, one group per axis value, one bar per model, whiskers at the interval
    clustered by dilemma."""
    width, height, left, top, bottom = 340, 190, 34, 22, 34
    plot_h = height - top - bottom
    group_w = (width - left - 8) / max(len(values), 1)
    bar_w = min(22.0, (group_w - 10) / max(len(models), 1))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="14" font-size="12" font-weight="600">{escape(title)}</text>',
    ]
    for tick in (0, 0.5, 1):
        y = top + plot_h * (1 - tick)
        parts.append(
            f'<line x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{tick:.0%}</text>"
        )
    for g, value in enumerate(values):
        x0 = left + g * group_w + 5
        for m, model in enumerate(models):
            cell = cells.get((model, value))
            if cell is None or not cell.decided:
                continue
            rate = cell.rate("subvert")
            low, high = cell.clustered("subvert")
            x = x0 + m * bar_w
            y = top + plot_h * (1 - rate)
            mid = x + bar_w / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" '
                f'height="{plot_h * rate:.1f}" fill="{PALETTE[m % len(PALETTE)]}">'
                f"<title>{escape(model)}, {escape(value)}: "
                f"{percent(cell.count('subvert'), cell.decided)}{_undecided(cell)}</title></rect>"
                f'<line x1="{mid - 1:.1f}" x2="{mid - 1:.1f}" y1="{top + plot_h * (1 - high):.1f}" '
                f'y2="{top + plot_h * (1 - low):.1f}" stroke="#111"/>'
            )
        parts.append(
            f'<text x="{x0 + len(models) * bar_w / 2:.1f}" y="{height - bottom + 14}" '
            f'font-size="10" text-anchor="middle">{escape(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


EDGE_COLOURS = {"agreed": "#222", "inverted": "#b00020", "takes_side": "#D55E00"}


def _revealed(found: list[Revealed]) -> Iterator[str]:
    """Per model: the prescribed graph and the revealed one side by side, and the pairs, the
    departures first, with how often each side prevailed and how sure that is."""
    found = [r for r in found if r.edges]
    if not found:
        return
    yield "<h2>Revealed hierarchy: who prevails over whom</h2>"
    yield (
        '<p class="muted">Per pair of principals that met in a conflict: how often each one\'s '
        "directive prevailed (complied with while the other was refused or subverted), with 95% "
        "intervals clustered by dilemma; an edge where one side prevails significantly (a score "
        "test clustered by dilemma, Holm-adjusted over pairs). Left, the prescribed hierarchy; "
        "right, the revealed one: black agrees, red inverts, orange takes a side the hierarchy "
        "leaves open, grey dashed is prescribed but not shown by the data.</p>"
    )
    for revealed in found:
        yield f"<h3>{escape(revealed.model)}</h3>"
        prescribed = _ranked_nodes(revealed, prescribed=True)
        shown = [s.issuer for s in revealed.strengths] or _ranked_nodes(revealed, False)
        yield '<div class="charts">'
        yield _arc_diagram("prescribed", prescribed, _prescribed_arrows(revealed.edges))
        yield _arc_diagram("revealed", shown, _revealed_arrows(revealed.edges))
        yield "</div>"
        order = {"inverted": 0, "takes_side": 1, "missing": 2}
        rows = sorted(revealed.edges, key=lambda e: (order.get(e.relation, 3), e.first, e.second))
        yield (
            "<table><tr><th>pair</th><th>prescribed</th><th>revealed</th><th>A won</th>"
            "<th>B won</th><th>both refused / neither</th><th>dilemmas</th><th>Holm p</th></tr>"
        )
        for edge in rows:
            yield _edge_row(edge)
        yield "</table>"
        if revealed.strengths:
            listed = ", ".join(
                f"{escape(s.issuer)} {s.strength:+.2f} ({s.low:+.2f} to {s.high:+.2f})"
                for s in revealed.strengths
            )
            yield f'<p class="muted">Bradley-Terry strengths (log-odds, sum zero): {listed}.</p>'


def _edge_row(edge: Edge) -> str:
    colour = EDGE_COLOURS.get(edge.relation, "#555")
    prescribed = {None: "unordered", "": "mixed"}.get(edge.prescribed, f"{edge.prescribed} above")
    revealed = f"{edge.revealed} prevails" if edge.revealed else "no edge"
    p = p_text(edge.p_adjusted)
    a = f"{escape(edge.first)} {edge.first_won} = {share_text(edge.share_first)}"
    b = f"{escape(edge.second)} {edge.second_won} = {share_text(edge.share_second)}"
    return (
        f"<tr><td>{escape(edge.first)} vs {escape(edge.second)}</td>"
        f"<td>{escape(prescribed)}</td>"
        f'<td style="color:{colour}">{escape(revealed)}: '
        f"{escape(RELATION_WORDS[edge.relation])}</td><td>{a}</td><td>{b}</td>"
        f'<td class="num">{edge.both_refused} / {edge.neither}</td>'
        f'<td class="num">{edge.dilemmas}</td><td class="num">{p}</td></tr>'
    )


def _ranked_nodes(revealed: Revealed, prescribed: bool) -> list[str]:
    """Nodes by how many pairs they win, prescribed or revealed: the top of the drawing."""
    wins: dict[str, int] = {n: 0 for n in revealed.nodes()}
    for edge in revealed.edges:
        winner = edge.prescribed if prescribed else edge.revealed
        if winner:
            wins[winner] += 1
    return sorted(wins, key=lambda n: (-wins[n], n))


def _prescribed_arrows(edges: list[Edge]) -> list[tuple[str, str, str, bool]]:
    arrows = []
    for edge in edges:
        if edge.prescribed:
            other = edge.second if edge.prescribed == edge.first else edge.first
            arrows.append((edge.prescribed, other, "#222", False))
    return arrows


def _revealed_arrows(edges: list[Edge]) -> list[tuple[str, str, str, bool]]:
    arrows = []
    for edge in edges:
        ends = edge.winner_loser
        if ends is not None:
            arrows.append((*ends, EDGE_COLOURS.get(edge.relation, "#222"), False))
        elif edge.relation == "missing" and edge.prescribed:
            other = edge.second if edge.prescribed == edge.first else edge.first
            arrows.append((edge.prescribed, other, "#999", True))
    return arrows


def _arc_diagram(title: str, nodes: list[str], arrows: list[tuple[str, str, str, bool]]) -> str:
    """Nodes in a column, strongest on top; each edge an arc on the right, arrow at the end."""
    step, top, x = 44, 36, 24
    y = {n: top + i * step for i, n in enumerate(nodes)}
    height = top + step * max(len(nodes) - 1, 0) + 24
    parts = [
        f'<svg width="360" height="{height}" role="img" aria-label="{escape(title)} hierarchy">',
        f'<text x="4" y="16" font-weight="600">{escape(title)}</text>',
    ]
    for source, target, colour, dashed in arrows:
        y1, y2 = y[source], y[target]
        bend = 150 + 28 * abs(y2 - y1) / step
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        parts.append(
            f'<path d="M{x + 150},{y1} C{bend + x},{y1} {bend + x},{y2} {x + 156},{y2}" '
            f'fill="none" stroke="{colour}" stroke-width="1.6"{dash}/>'
        )
        tip = x + 156
        parts.append(
            f'<path d="M{tip},{y2} l8,-4 l0,8 z" fill="{colour}"/>'  # the arrowhead: the loser
        )
    for node, at in y.items():
        parts.append(
            f'<rect x="{x - 8}" y="{at - 13}" width="164" height="24" rx="5" fill="#f6f6f6" '
            f'stroke="#bbb"/><text x="{x}" y="{at + 4}">{escape(node)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _drilldown(
    cells: list[Cell], anchors: dict[tuple[str, str], str], samples: list[Sample]
) -> Iterator[str]:
    by_cell: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for sample in samples:
        by_cell[sample.model, sample.principal].append(sample)
    yield "<h2>Transcripts behind each cell</h2>"
    for cell in cells:
        shown = by_cell.get((cell.model, cell.principal), [])
        yield (
            f'<section id="{anchors[cell.model, cell.principal]}"><h3>{escape(cell.model)} · '
            f"{escape(cell.principal)}</h3>"
        )
        counts = ", ".join(f"{label} {cell.count(label)}" for label in LABELS)
        yield (
            f'<p class="muted">{cell.n} verdicts on {cell.dilemmas} distinct dilemmas ({counts}); '
            f"{len(shown)} shown, the first of each label.</p>"
        )
        yield from (_transcript(sample) for sample in shown)
        yield "</section>"


def _transcript(sample: Sample) -> str:
    axes = ", ".join(f"{k}={v}" for k, v in sorted(sample.axes.items()))
    head = (
        f'<summary><b class="{escape(sample.label)}">{escape(sample.label)}</b> · '
        f"{escape(sample.family)} · {escape(axes)} · epoch {sample.epoch} · "
        f"<code>{escape(sample.dilemma_id[:12])}</code>"
        + (f" · source <code>{escape(sample.source)}</code>" if sample.source else "")
        + "</summary>"
    )
    body = [head]
    if sample.stop_reason in NOT_ANSWERED:
        body.append(f'<p class="warning">{escape(NOT_ANSWERED[sample.stop_reason])}</p>')
    body.append(_evidence(sample.evidence))
    if sample.reasoning:
        body.append(_message("reasoning", sample.reasoning))
    for message in [*sample.prompt, *sample.messages]:
        body.append(_message(_speaker(message), message.get("content", ""), message))
    if sample.final_answer:
        body.append(_message("final answer", sample.final_answer))
    return "<details>" + "".join(body) + "</details>"


def _speaker(message: dict[str, Any]) -> str:
    role = str(message.get("role", "?"))
    who = message.get("principal") or message.get("name")
    return f"{role} ({who})" if who else role


def _message(speaker: str, content: str, message: dict[str, Any] | None = None) -> str:
    calls = (message or {}).get("tool_calls") or []
    text = content + "".join(f"\n→ {c.get('name')}({c.get('arguments')})" for c in calls)
    return f'<div><span class="role">{escape(speaker)}</span><pre>{escape(text)}</pre></div>'


def _evidence(evidence: VerdictEvidence) -> str:
    items = [f"<li>quoted: {escape(q)}</li>" for q in evidence.quotes]
    items += [f"<li>tool call: {escape(c)}</li>" for c in evidence.calls]
    if evidence.mismatch:
        items.append("<li>said one thing and did another</li>")
    if evidence.tested:
        items.append(f"<li>said it may be tested: {escape(evidence.tested)}</li>")
    if evidence.rationale:
        items.append(f"<li>rationale: {escape(evidence.rationale)}</li>")
    return (
        "<ul>" + "".join(items) + "</ul>" if items else '<p class="muted">no evidence recorded</p>'
    )
