"""Views of a hierarchy for people (text), for Graphviz (dot) and for programs (json)."""

from __future__ import annotations

import json
from typing import Any

from hierarchy.graph import Hierarchy


def as_json(hierarchy: Hierarchy) -> dict[str, Any]:
    """The spec plus what follows from it: ranks, unordered pairs, channel verifiability."""
    body = hierarchy.spec.model_dump(mode="json", exclude_defaults=True)
    body["channels"] = [c.model_dump(mode="json") for c in hierarchy.channels.values()]
    body["ranks"] = hierarchy.ranks()
    body["outranks"] = [list(p) for p in hierarchy.outranked_pairs()]
    body["unordered_pairs"] = [list(p) for p in hierarchy.unordered_pairs()]
    return body


def as_text(hierarchy: Hierarchy) -> str:
    lines = [f"{hierarchy.name}: {hierarchy.spec.description}".rstrip(": "), "", "principals:"]
    for principal in hierarchy.principals.values():
        channel = hierarchy.channels[principal.channel]
        trust = "verified" if channel.verified else "unverified"
        lines.append(f"  {principal.id:<18} via {channel.id} ({trust})")
    lines += ["", "authority (higher first):"]
    for edge in hierarchy.spec.authority:
        scope = f"  [scope: {edge.scope}]" if edge.scope else ""
        lines.append(f"  {edge.above} > {edge.below}{scope}")
    below: dict[str, list[str]] = {}
    for above, lower in hierarchy.outranked_pairs():
        below.setdefault(above, []).append(lower)
    lines += ["", "outranks, transitively:"]
    lines += [f"  {above} > {', '.join(lower)}" for above, lower in below.items()] or ["  nobody"]
    pairs = hierarchy.unordered_pairs()
    unordered = ", ".join(f"{a} ~ {b}" for a, b in pairs) if pairs else "none"
    lines.append(f"unordered: {unordered}")
    for directive in hierarchy.spec.standing_directives:
        lines.append(f"standing: {directive.principal} {directive.kind}s: {directive.text.strip()}")
    return "\n".join(lines)


def as_dot(hierarchy: Hierarchy) -> str:
    lines = [f"digraph {json.dumps(hierarchy.name)} {{", "  rankdir=TB;"]
    for principal in hierarchy.principals.values():
        channel = hierarchy.channels[principal.channel]
        style = "solid" if channel.verified else "dashed"
        label = f"{principal.id}\\n({channel.id})"
        lines.append(f'  {json.dumps(principal.id)} [label="{label}", style={style}];')
    for edge in hierarchy.spec.authority:
        attrs = f" [label={json.dumps(edge.scope)}, style=dotted]" if edge.scope else ""
        lines.append(f"  {json.dumps(edge.above)} -> {json.dumps(edge.below)}{attrs};")
    lines.append("}")
    return "\n".join(lines)
