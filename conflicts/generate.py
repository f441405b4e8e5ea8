"""Turning a family and a hierarchy into dilemmas, streamed to JSONL.

Deterministic: the same family, hierarchy, axes and seed give the same bytes. Output goes to a
temporary file renamed into place, so a failure never leaves half a dilemma set behind.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conflicts.dilemma import (
    ConflictRecord,
    Dilemma,
    DirectiveRecord,
    Message,
    Move,
    ToolCall,
    ToolSpec,
    content_id,
)
from conflicts.errors import FamilyError
from conflicts.evidence import PrincipalEvidence
from conflicts.family import FamilySpec
from conflicts.templates import render
from hierarchy import Hierarchy
from hierarchy.spec import DirectiveSpec

REGEX_KEYS = frozenset({"answer_matches", "said", "claim", "args"})


@dataclass
class Summary:
    """How many dilemmas went out, per family and per axis value."""

    total: int = 0
    by_family: Counter[str] = field(default_factory=Counter)
    by_axis: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, dilemma: Dilemma) -> None:
        self.total += 1
        self.by_family[dilemma.family] += 1
        self.by_axis.update(dilemma.axes.items())


def axis_points(axes: Mapping[str, list[str]]) -> Iterator[dict[str, str]]:
    """The full factorial over the chosen axis values, in a fixed order."""
    names = sorted(axes)
    for values in itertools.product(*(axes[name] for name in names)):
        yield dict(zip(names, values, strict=True))


def check_compatible(family: FamilySpec, hierarchy: Hierarchy) -> None:
    for index, principal in enumerate(family.principals):
        if principal not in hierarchy.principals:
            raise FamilyError(
                f"family {family.id!r} needs principal {principal!r}, which hierarchy "
                f"{hierarchy.name!r} lacks (it has: {', '.join(hierarchy.principals)})",
                loc=("principals", index),
            )


def dilemmas(
    family: FamilySpec,
    hierarchy: Hierarchy,
    axes: Mapping[str, list[str]],
    seed: int,
    sample: int | None = None,
) -> Iterator[Dilemma]:
    """Every dilemma of the family over the axes and its settings, or a seeded sample of them."""
    check_compatible(family, hierarchy)
    points = [(p, s) for p in axis_points(axes) for s in range(len(family.settings))]
    if sample is not None and sample < len(points):
        chosen = sorted(random.Random(f"{seed}:{family.id}").sample(range(len(points)), sample))
        points = [points[i] for i in chosen]
    resolutions = _resolutions(family, hierarchy)
    for point, setting in points:
        yield render_dilemma(family, hierarchy, point, setting, resolutions)


def _resolutions(family: FamilySpec, hierarchy: Hierarchy) -> list[ConflictRecord]:
    by_id = {d.id: d for d in family.directives}
    records = []
    for conflict in family.conflicts:
        first, second = (by_id[i] for i in conflict.between)
        resolution = hierarchy.resolve(first, second, conflict.scope)
        records.append(
            ConflictRecord(
                directives=resolution.directives,
                principals=resolution.principals,
                winner=resolution.winner,
                basis=resolution.basis,
            )
        )
    return records


def render_dilemma(
    family: FamilySpec,
    hierarchy: Hierarchy,
    point: Mapping[str, str],
    setting: int,
    conflicts: list[ConflictRecord],
) -> Dilemma:
    """One family rendered at one axis point and setting; its id hashes everything else."""
    slots = dict(family.settings[setting])
    for axis, value in point.items():
        slots.update({k: render(v, slots) for k, v in family.axes[axis][value].items()})
    directives = [_directive(d, slots, hierarchy, "family") for d in family.directives]
    slots.update({d.id: d.text for d in directives})
    directives += [
        _directive(d, slots, hierarchy, "hierarchy")
        for d in hierarchy.spec.standing_directives
        if d.principal in family.principals
    ]
    channels = {p: hierarchy.principals[p].channel for p in family.principals}
    body: dict[str, Any] = {
        "schema": "ihsim.dilemma/1",
        "family": family.id,
        "family_version": family.version,
        "hierarchy": hierarchy.name,
        "axes": dict(point),
        "setting": setting,
        "principals": list(family.principals),
        "directives": [d.model_dump() for d in directives],
        "conflicts": [c.model_dump() for c in conflicts],
        "messages": [
            Message(
                role=m.role,
                content=render(m.content, slots),
                principal=m.principal,
                channel=channels[m.principal] if m.principal else None,
            ).model_dump(exclude_defaults=True)
            for m in family.messages
        ],
        "tools": [
            ToolSpec(name=t.name, description=t.description, parameters=t.parameters).model_dump()
            for t in family.tools
        ],
        "evidence": {
            p: _render_evidence(e, slots).model_dump(by_alias=True, exclude_none=True)
            for p, e in family.evidence.items()
        },
        "moves": [_move(m, slots).model_dump(exclude_defaults=True) for m in family.moves],
    }
    body["id"] = content_id(body)
    return Dilemma.model_validate(body)


def _directive(
    spec: DirectiveSpec, slots: Mapping[str, str], hierarchy: Hierarchy, source: str
) -> DirectiveRecord:
    channel = hierarchy.channel_of(spec)
    return DirectiveRecord(
        id=spec.id,
        principal=spec.principal,
        kind=spec.kind,
        text=render(spec.text, slots).strip(),
        channel=channel.id,
        verified=channel.verified,
        claims=spec.claims,
        authority=hierarchy.effective_principal(spec),
        source=source,
    )


def _move(move: Any, slots: Mapping[str, str]) -> Move:
    calls = [
        ToolCall(
            id=f"call_{index}",
            name=c.name,
            arguments={k: render(v, slots) for k, v in c.arguments.items()},
        )
        for index, c in enumerate(move.calls)
    ]
    return Move(id=move.id, intent=move.intent, say=render(move.say, slots).strip(), calls=calls)


def _render_evidence(evidence: PrincipalEvidence, slots: Mapping[str, str]) -> PrincipalEvidence:
    data = evidence.model_dump(by_alias=True, exclude_none=True)
    return PrincipalEvidence.model_validate(_render_patterns(data, slots, in_regex=False))


def _render_patterns(node: Any, slots: Mapping[str, str], in_regex: bool) -> Any:
    """Fill slots in evidence patterns, escaping slot values so a name never acts as a regex."""
    if isinstance(node, dict):
        return {k: _render_patterns(v, slots, in_regex or k in REGEX_KEYS) for k, v in node.items()}
    if isinstance(node, list):
        return [_render_patterns(v, slots, in_regex) for v in node]
    if isinstance(node, str):
        return render(node, slots, re.escape if in_regex else None)
    return node


def write_jsonl(items: Iterator[Dilemma], output: Path) -> Summary:
    """Stream dilemmas into `output` atomically; returns what was written."""
    summary = Summary()
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for dilemma in items:
                handle.write(dilemma.to_json())
                handle.write("\n")
                summary.add(dilemma)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return summary
