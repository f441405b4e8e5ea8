"""Turning a family and a hierarchy into dilemmas, streamed to JSONL.

Deterministic: the same family, hierarchy, axes and seed give the same bytes. A family is compiled
once per hierarchy into plain dicts, so each dilemma costs a few template fills and one JSON dump.
Output goes to a temporary file renamed into place: a failure never leaves half a set behind.
"""

from __future__ import annotations

import errno
import itertools
import json
import queue
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from conflicts.atomic import atomic_file
from conflicts.errors import FamilyError
from conflicts.scenarios.acts import act_name, acts
from conflicts.scenarios.axes import NOT_VARIED, parse_axes
from conflicts.scenarios.dilemma import SCHEMA, Dilemma, legacy_id, seen_id
from conflicts.scenarios.evidence import PrincipalEvidence, fill_slots, pattern_refs
from conflicts.scenarios.family import (
    FamilySpec,
    IssuerSwap,
    MessageTemplate,
    MoveTemplate,
    ToolTemplate,
)
from conflicts.scenarios.templates import Deferred, render, slots_in
from hierarchy import Hierarchy
from hierarchy.spec import DirectiveSpec

Point = dict[str, str]


@dataclass
class Summary:
    """How many dilemmas went out, per family and per axis value.

    Counted per distinct (family, axis point), of which there are few, and expanded on demand.
    """

    total: int = 0
    points: Counter[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=Counter)

    def add(self, family: str, point: Point) -> None:
        self.total += 1
        self.points[family, tuple(point.items())] += 1

    @property
    def by_family(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (family, _), count in self.points.items():
            counts[family] += count
        return counts

    @property
    def by_axis(self) -> Counter[tuple[str, str]]:
        counts: Counter[tuple[str, str]] = Counter()
        for (_, point), count in self.points.items():
            for item in point:
                counts[item] += count
        return counts


@dataclass(frozen=True)
class Line:
    """One serialised dilemma (UTF-8 JSON, no newline), with what the summary needs of it."""

    json: bytes
    family: str
    point: Point


@dataclass(frozen=True)
class Selection:
    """The items present at one combination of the axes that `only_when` conditions name."""

    directives: list[str]
    conflicts: list[dict[str, Any]]
    principals: frozenset[str]
    tools: list[str]
    moves: list[str]
    scored: tuple[str, ...]  # the axes the present rules' `at:` conditions read


def axis_points(axes: Mapping[str, list[str]]) -> Iterator[Point]:
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


class Renderer:
    """A family compiled against one hierarchy: everything that does not vary is built once.

    Rendered items (directives, messages, moves, patterns) are grouped by the axes they depend on
    and cached on the setting and those axes' values: across a grid most are looked up, not filled.
    """

    CACHE_LIMIT = 4096

    def __init__(
        self, family: FamilySpec, hierarchy: Hierarchy, swap_issuers: bool = False
    ) -> None:
        check_compatible(family, hierarchy)
        self.family = family
        self.hierarchy = hierarchy
        self.swaps = _hosted_swaps(family, hierarchy) if swap_issuers else None
        self.evidence_extras: dict[str, Any] = (
            {"needs_tool_call": True} if family.engagement.needs_tool_call else {}
        )
        if family.judge_guidance:
            self.evidence_extras["judge_guidance"] = {
                p: " ".join(words.split()) for p, words in family.judge_guidance.items()
            }
        self.static: dict[str, Any] = {
            "schema": SCHEMA,
            "family": family.id,
            "family_version": family.version,
            "hierarchy": hierarchy.name,
            "principals": list(family.principals),
        }
        self.conflicts = _resolutions(family, hierarchy)
        self.standing = [
            _directive(d, d.text.strip(), hierarchy, "hierarchy")
            for d in hierarchy.spec.standing_directives
            if d.principal in family.principals
        ]
        self.channels = {p: hierarchy.principals[p].channel for p in family.principals}
        rules = {
            p: e.model_dump(by_alias=True, exclude_none=True) for p, e in family.evidence.items()
        }
        self._axis_of = {
            slot: axis
            for axis, values in family.axes.items()
            for slot in next(iter(values.values()))
        }
        self._directive_axes: dict[str, set[str]] = {}  # directive text cannot quote directives
        self._directive_axes = {
            d.id: {*self._depends(d.text), *d.only_when} for d in family.directives
        }
        items: list[tuple[str, tuple[str, ...], Callable[[dict[str, str]], Any]]] = [
            *(
                (f"directive:{d.id}", self._depends(d.text), partial(self._directive, d))
                for d in family.directives
            ),
            *(
                (f"message:{i}", self._depends(m.content), partial(self._message, m))
                for i, m in enumerate(family.messages)
            ),
            *(
                (f"move:{m.id}", self._depends(m.say, *_call_texts(m)), partial(_move, m))
                for m in family.moves
            ),
            *(
                (f"pattern:{name}", self._depends(text), partial(_pattern, text))
                for name, text in family.patterns.items()
            ),
            *(
                (f"rules:{p}", self._depends(json.dumps(rule)), partial(_render_rules, rule))
                for p, rule in rules.items()
            ),
            *(
                (f"tool:{t.name}", self._depends(json.dumps(t.model_dump())), partial(_tool, t))
                for t in family.tools
            ),
            *(
                (f"state:{k}", self._depends(v), partial(render, v))
                for k, v in family.environment.items()
            ),
        ]
        groups: dict[tuple[str, ...], list[tuple[str, Callable[[dict[str, str]], Any]]]] = {}
        for name, axes, build in items:
            groups.setdefault(axes, []).append((name, build))
        self.groups = list(groups.items())
        self._cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.conditional_axes = sorted(
            {
                a
                for item in (*family.directives, *family.tools, *family.moves)
                for a in item.only_when
            }
        )
        self._selections: dict[tuple[str, ...], Selection] = {}
        self.message_names = [f"message:{i}" for i in range(len(family.messages))]
        self.pattern_names = [(name, f"pattern:{name}") for name in family.patterns]
        self.act_patterns = _acts_named(family)
        self.state_names = [(key, f"state:{key}") for key in family.environment]
        self.rule_principals = list(family.evidence)

    def _depends(self, *texts: str) -> tuple[str, ...]:
        """The axes a text depends on, through axis slots and the directives it quotes."""
        axes: set[str] = set()
        for text in texts:
            for slot in slots_in(text):
                if slot in self._axis_of:  # axis text itself may use setting slots only
                    axes.add(self._axis_of[slot])
                elif slot in self._directive_axes:
                    axes.update(self._directive_axes[slot])
        return tuple(sorted(axes))

    def slots(self, point: Mapping[str, str], setting: int) -> dict[str, str]:
        """Setting values, then axis text filled from them, then each directive's words."""
        slots = dict(self.family.settings[setting])
        for axis, value in point.items():
            slots.update({k: render(v, slots) for k, v in self.family.axes[axis][value].items()})
        for directive in self.family.directives:
            present = directive.present(point)
            slots[directive.id] = render(directive.text, slots).strip() if present else ""
        return slots

    def body(self, point: Mapping[str, str], setting: int) -> dict[str, Any]:
        slots: dict[str, str] | None = None
        rendered: dict[str, Any] = {}
        for index, (axes, builds) in enumerate(self.groups):
            key = (index, setting, *[point[axis] for axis in axes])
            group = self._cache.get(key)
            if group is None:
                if slots is None:
                    slots = self.slots(point, setting)
                group = {name: _fragment(build(slots)) for name, build in builds}
                if len(self._cache) >= self.CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = group
            rendered.update(group)
        selection = self._selection(point)
        return {
            **self.static,
            "axes": dict(point),
            "setting": setting,
            "directives": [rendered[name] for name in selection.directives] + self.standing,
            "conflicts": selection.conflicts,
            "messages": [rendered[name] for name in self.message_names],
            "evidence": {
                "patterns": {
                    **{name: rendered[item] for name, item in self.pattern_names},
                    **self.act_patterns,
                },
                "principals": {
                    p: rendered[f"rules:{p}"]
                    for p in self.rule_principals
                    if p in selection.principals
                },
                **self.evidence_extras,
            },
            "moves": [rendered[name] for name in selection.moves],
            "tools": [rendered[name] for name in selection.tools],
            "environment": {k: rendered[item] for k, item in self.state_names},
        }

    def _selection(self, point: Mapping[str, str]) -> Selection:
        """What is present at this point: it depends only on the axes `only_when` names."""
        key = tuple(point[axis] for axis in self.conditional_axes)
        selection = self._selections.get(key)
        if selection is None:
            selection = self._selections[key] = self._select(point)
        return selection

    def _select(self, point: Mapping[str, str]) -> Selection:
        family = self.family
        present = [d for d in family.directives if d.present(point)]
        ids = {d.id for d in present}
        tools = [t for t in family.tools if t.present(point)]
        names = {t.name for t in tools}
        moves = [m for m in family.moves if m.present(point) and names.issuperset(_call_names(m))]
        principals = frozenset(d.principal for d in present)
        scored = {
            axis
            for principal in principals & set(family.evidence)
            for label in ("subvert", "refuse", "comply")
            if (rule := getattr(family.evidence[principal], label)) is not None
            for condition in rule.conditions()
            for axis in condition
        }
        return Selection(
            directives=[f"directive:{d.id}" for d in present],
            conflicts=[c for c in self.conflicts if ids.issuperset(c["directives"])],
            principals=principals,
            tools=[f"tool:{t.name}" for t in tools],
            moves=[f"move:{m.id}" for m in moves],
            scored=tuple(sorted(scored)),
        )

    def _directive(self, spec: DirectiveSpec, slots: Mapping[str, str]) -> dict[str, Any]:
        return _directive(spec, render(spec.text, slots).strip(), self.hierarchy, "family")

    def _message(self, message: MessageTemplate, slots: Mapping[str, str]) -> dict[str, Any]:
        record: dict[str, Any] = {"role": message.role, "content": render(message.content, slots)}
        if message.principal is not None:
            record["principal"] = message.principal
            record["channel"] = self.channels[message.principal]
        return record

    def rendering(self, point: Point, setting: int) -> Rendering:
        """The dilemma at one point, split into what the model sees and is scored against
        (canonical JSON, hashed for the id) and where it came from."""
        body = self.body(point, setting)
        where = {k: body.pop(k) for k in ("axes", "setting", "moves")}
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        scored = {a: point[a] for a in self._selection(point).scored}
        return Rendering(seen_id(canonical, scored), canonical, point, where)

    def renderings(self, point: Point, setting: int) -> list[Rendering]:
        """The dilemma at one point and, with issuer swaps on, each swap's variant of it, tied
        to it by the original's id as their pair."""
        if self.swaps is None:
            return [self.rendering(point, setting)]
        plain = self.rendering(point, setting)
        marked = {**point, SWAP_AXIS: ORIGINAL}
        where = {**plain.where, "axes": marked, "pair": plain.id}
        original = Rendering(plain.id, plain.canonical, marked, where)
        variants = [self.swapped(point, setting, swap, original.id) for swap in self.swaps]
        return [original, *(v for v in variants if v is not None)]

    def swapped(self, point: Point, setting: int, swap: IssuerSwap, pair: str) -> Rendering | None:
        """The same dilemma with one directive's words issued by another principal, arriving
        where the swap says; None where the directive or the tool it arrives in is absent."""
        family = self.family
        spec = next(d for d in family.directives if d.id == swap.directive)
        tools = [t for t in family.tools if t.present(point)]
        if not spec.present(point) or (
            swap.into.tool is not None and swap.into.tool not in {t.name for t in tools}
        ):
            return None
        body = orjson.loads(orjson.dumps(self.body(point, setting)))
        slots = self.slots(point, setting)
        blank = {**slots, spec.id: ""}
        for index, message in enumerate(family.messages):
            if spec.id in slots_in(message.content):
                content = _tidy(render(message.content, blank))
                if not content:
                    raise FamilyError(
                        f"swap {swap.name!r} leaves message {index} empty",
                        loc=("swaps", family.swaps.index(swap), "directive"),
                    )
                body["messages"][index]["content"] = content
        for index, tool in enumerate(tools):
            if spec.id in slots_in(json.dumps(tool.model_dump())):
                body["tools"][index] = _tidy_results(_tool(tool, blank))
        words = render(swap.frame, {**slots, "text": slots[spec.id]}).strip()
        channel = self._place(body, swap, words, tools)
        moved = spec.model_copy(
            update={"principal": swap.issuer, "channel": channel, "claims": swap.claims}
        )
        record = {**_directive(moved, slots[spec.id], self.hierarchy, "family")}
        record["judged_as"] = spec.principal
        body["directives"] = self._arrived(body["directives"], record, swap)
        present = {d["id"] for d in body["directives"]}
        body["conflicts"] = [
            c
            for c in _resolutions(family, self.hierarchy, {spec.id: moved})
            if present.issuperset(c["directives"])
        ]
        where = {k: body.pop(k) for k in ("axes", "setting", "moves")}
        where["axes"] = {**point, SWAP_AXIS: swap.name}
        where["pair"] = pair
        where["swap"] = {
            "id": swap.name,
            "directive": spec.id,
            "issuer": swap.issuer,
            "channel": channel,
            **({"claims": swap.claims} if swap.claims else {}),
        }
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        scored = {a: point[a] for a in self._selection(point).scored}
        return Rendering(seen_id(canonical, scored), canonical, where["axes"], where)

    def _place(
        self, body: dict[str, Any], swap: IssuerSwap, words: str, tools: list[ToolTemplate]
    ) -> str:
        """Put the swapped words where the swap says; returns the channel they arrive by."""
        if swap.into.message is not None:
            message = body["messages"][swap.into.message]
            role = message["role"]
            start = (swap.at or ("start" if role == "user" else "end")) == "start"
            parts = [words, message["content"]] if start else [message["content"], words]
            message["content"] = "\n\n".join(p for p in parts if p)
            return swap.channel or role
        index = [t.name for t in tools].index(str(swap.into.tool))
        for case in body["tools"][index]["results"]:
            start = swap.at == "start"
            parts = [words, case["returns"]] if start else [case["returns"], words]
            case["returns"] = "\n".join(p for p in parts if p)
        return swap.channel or "tool_result"

    def _arrived(
        self, directives: list[dict[str, Any]], record: dict[str, Any], swap: IssuerSwap
    ) -> list[dict[str, Any]]:
        """The directives in order of arrival with the swapped one moved to where its words
        now arrive: before the first directive that reaches the model after them."""
        arrival = _arrival(self.family)
        target = swap.into
        if target.message is not None:
            at = swap.at or (
                "start" if self.family.messages[target.message].role == "user" else "end"
            )
            where = (target.message, -1 if at == "start" else 1 << 30)
        else:
            where = (len(self.family.messages), 1 << 30)
        rest = [d for d in directives if d["id"] != record["id"]]
        for index, directive in enumerate(rest):
            if directive["source"] == "hierarchy" or arrival.get(directive["id"], (-1, 0)) > where:
                return [*rest[:index], record, *rest[index:]]
        return [*rest, record]

    def line(self, group: list[Rendering]) -> Line:
        """One dilemma for renderings that are word for word alike: the first's, its axes
        "not varied here" where the group's points differ, and the points it stands for."""
        first = group[0]
        where = dict(first.where)
        if len(group) > 1:
            points = [r.point for r in group]
            where["axes"] = {
                axis: value if all(p[axis] == value for p in points) else NOT_VARIED
                for axis, value in first.point.items()
            }
            where["stands_for"] = points
        head = orjson.dumps({"id": first.id, **where})
        json_line = b"".join((head[:-1], b",", memoryview(first.canonical)[1:]))
        return Line(json_line, self.family.id, where["axes"])


@dataclass(frozen=True)
class Rendering:
    id: str
    canonical: bytes
    point: Point
    where: dict[str, Any]


SWAP_AXIS = "issuer_swap"  # the axis a swapped variant is reported under
ORIGINAL = "none"  # its value on the original rendering


def _hosted_swaps(family: FamilySpec, hierarchy: Hierarchy) -> list[IssuerSwap]:
    """The family's swaps whose issuer (and claimed identity) the hierarchy has."""
    return [
        s
        for s in family.swaps
        if s.issuer in hierarchy.principals
        and (s.claims is None or s.claims in hierarchy.principals)
    ]


def _arrival(family: FamilySpec) -> dict[str, tuple[int, int]]:
    """Where each directive first reaches the model: (message index, offset in its template);
    in a tool's results, after every message; a directive in no template has no place."""
    places: dict[str, tuple[int, int]] = {}
    texts = [m.content for m in family.messages]
    texts.append("\n".join(case.returns for t in family.tools for case in t.results))
    for index, text in enumerate(texts):
        for match in re.finditer(r"\{\{\s*([\w.\-]+)\s*\}\}", text):
            places.setdefault(match[1], (index, match.start()))
    return places


def _tidy(text: str) -> str:
    """A template with a directive's words taken out, without the gap they leave."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", text).strip()


def _tidy_results(tool: dict[str, Any]) -> dict[str, Any]:
    for case in tool["results"]:
        case["returns"] = _tidy(case["returns"])
    return tool


def _acts_named(family: FamilySpec) -> dict[str, str]:
    """The library acts the family's rules name (`@act:NAME`), by the name the rules use."""
    named = {
        ref
        for evidence in family.evidence.values()
        for label in ("subvert", "refuse", "comply")
        if (rule := getattr(evidence, label)) is not None
        for _, pattern in rule.patterns()
        if (ref := pattern_refs(pattern)) is not None and act_name(ref) is not None
    }
    return {ref: acts()[str(act_name(ref))] for ref in sorted(named)}


def _fragment(item: Any) -> orjson.Fragment:
    """A rendered item serialised once, canonically, and reused verbatim in every dilemma."""
    return orjson.Fragment(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))


def _call_names(move: MoveTemplate) -> set[str]:
    return {call.name for call in move.calls}


def _call_texts(move: MoveTemplate) -> list[str]:
    return [v for call in move.calls for v in call.arguments.values()]


def _tool(tool: ToolTemplate, slots: Mapping[str, str]) -> dict[str, Any]:
    """A tool with its scripted results; `{{ arg.* }}` and `{{ state.* }}` wait for run time."""
    later = Deferred(slots)
    return {
        "name": tool.name,
        "description": render(tool.description, slots).strip(),
        "parameters": tool.parameters,
        "results": [
            {
                "when": {k: render(v, slots, re.escape) for k, v in case.when.items()},
                "returns": render(case.returns, later),
                "sets": {k: render(v, later) for k, v in case.sets.items()},
            }
            for case in tool.results
        ],
    }


def _pattern(text: str, slots: Mapping[str, str]) -> str:
    return render(text, slots, re.escape)


def _resolutions(
    family: FamilySpec, hierarchy: Hierarchy, moved: Mapping[str, DirectiveSpec] | None = None
) -> list[dict[str, Any]]:
    """Each conflict and its prescribed resolution; `moved` directives stand in for the
    family's (an issuer swap's, resolved by their new issuer)."""
    by_id: dict[str, DirectiveSpec] = {d.id: d for d in family.directives}
    by_id.update(moved or {})
    records = []
    for conflict in family.conflicts:
        first, second = (by_id[i] for i in conflict.between)
        resolution = hierarchy.resolve(first, second, conflict.scope)
        records.append(
            {
                "directives": list(resolution.directives),
                "principals": list(resolution.principals),
                "winner": resolution.winner,
                "basis": resolution.basis,
            }
        )
    return records


def _directive(spec: DirectiveSpec, text: str, hierarchy: Hierarchy, source: str) -> dict[str, Any]:
    channel = hierarchy.channel_of(spec)
    return {
        "id": spec.id,
        "principal": spec.principal,
        "kind": spec.kind,
        "text": text,
        "channel": channel.id,
        "verified": channel.verified,
        "claims": spec.claims,
        "authority": hierarchy.effective_principal(spec),
        "source": source,
    }


def _move(move: MoveTemplate, slots: Mapping[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": move.id,
        "intent": dict(move.intent),
        "say": render(move.say, slots).strip(),
    }
    if move.calls:
        record["calls"] = [
            {
                "id": f"call_{index}",
                "name": call.name,
                "arguments": {k: render(v, slots) for k, v in call.arguments.items()},
            }
            for index, call in enumerate(move.calls)
        ]
    return record


def _render_rules(node: Any, slots: Mapping[str, str]) -> Any:
    """Fill slots in a principal's rules; values inserted into a regular expression are escaped,
    so a name never acts as a regex (which fields those are, the rule models say)."""
    return fill_slots(PrincipalEvidence, node, partial(_fill, slots=slots))


def _fill(text: str, escape: Callable[[str], str] | None, slots: Mapping[str, str]) -> str:
    return render(text, slots, escape)


def dilemma_lines(
    family: FamilySpec,
    hierarchy: Hierarchy,
    axes: Mapping[str, list[str]],
    seed: int,
    sample: int | None = None,
    swap_issuers: bool = False,
) -> Iterator[Line]:
    """Every dilemma of the family over the axes and its settings, or a seeded sample of them
    (of the distinct dilemmas: finding them renders the grid once more); with `swap_issuers`,
    each beside its issuer-swap variants."""
    chosen = None
    if sample is not None:
        total = distinct_count(family, hierarchy, axes, swap_issuers)
        if sample < total:
            rng = random.Random(f"{seed}:{family.id}")
            chosen = set(rng.sample(range(total), sample))
    return _lines(family, hierarchy, axes, chosen, swap_issuers)


def distinct_count(
    family: FamilySpec,
    hierarchy: Hierarchy,
    axes: Mapping[str, list[str]],
    swap_issuers: bool = False,
) -> int:
    """How many distinct dilemmas the grid renders (alike renderings counted once)."""
    return sum(1 for _ in _groups(Renderer(family, hierarchy, swap_issuers), axes))


def _lines(
    family: FamilySpec,
    hierarchy: Hierarchy,
    axes: Mapping[str, list[str]],
    chosen: set[int] | None,
    swap_issuers: bool = False,
) -> Iterator[Line]:
    """The grid's distinct dilemmas in their fixed order (`_groups`); only the `chosen` ones
    (their indices among the distinct dilemmas) when given."""
    renderer = Renderer(family, hierarchy, swap_issuers)
    for index, group in enumerate(_groups(renderer, axes)):
        if chosen is None or index in chosen:
            yield renderer.line(group)


def _groups(renderer: Renderer, axes: Mapping[str, list[str]]) -> Iterator[list[Rendering]]:
    """The grid in its fixed order, as groups of the points of a setting that render word for
    word alike (where an axis value changes nothing, as framing when nothing is prohibited):
    each group is one dilemma, counted once.

    Settings vary slowest: the render cache then holds one setting's items at a time, which at a
    thousand settings is the difference between 4k and 35k dilemmas/s; the points of one setting
    are held until it is done, so alike renderings are found among them.
    """
    for setting in range(len(renderer.family.settings)):
        groups: dict[str, list[Rendering]] = {}
        for point in axis_points(axes):
            for rendering in renderer.renderings(point, setting):
                groups.setdefault(rendering.id, []).append(rendering)
        yield from groups.values()


def lines_with_legacy_ids(
    family: FamilySpec, hierarchy: Hierarchy, axes: Mapping[str, list[str]]
) -> Iterator[tuple[Line, list[str]]]:
    """Every distinct dilemma with the ids its points had before alike renderings were one
    (`legacy_id`), rendered once: logs and gold files that name one by such an id find it."""
    renderer = Renderer(family, hierarchy)
    for group in _groups(renderer, axes):
        olds = [legacy_id({**orjson.loads(r.canonical), **r.where}) for r in group]
        yield renderer.line(group), olds


def hosted(families: list[FamilySpec], hierarchy: Hierarchy) -> tuple[list[FamilySpec], list[str]]:
    """The families whose principals the hierarchy has, and why each other one is left out."""
    kept, reasons = [], []
    for family in families:
        try:
            check_compatible(family, hierarchy)
            kept.append(family)
        except FamilyError as exc:
            reasons.append(exc.message)
    if not kept:
        raise FamilyError(
            f"no family fits hierarchy {hierarchy.name!r}: " + "; ".join(reasons), loc=("family",)
        )
    return kept, reasons


def family_set_lines(
    families: list[FamilySpec],
    hierarchy: Hierarchy,
    axes_text: str | None,
    seed: int,
    sample: int | None,
    swap_issuers: bool = False,
) -> Iterator[Line]:
    """Several families under one hierarchy; a seeded sample counts across all of them."""
    strict = len(families) == 1
    grids = [(f, parse_axes(axes_text, f.supported_axes(), strict)) for f in families]
    chosen = None
    if sample is not None:
        sizes = [distinct_count(f, hierarchy, a, swap_issuers) for f, a in grids]
        if sample < sum(sizes):
            chosen = set(random.Random(f"{seed}:all").sample(range(sum(sizes)), sample))
    else:
        sizes = [0] * len(grids)
    offset = 0
    for (family, axes), size in zip(grids, sizes, strict=True):
        mine = (
            None if chosen is None else {i - offset for i in chosen if offset <= i < offset + size}
        )
        offset += size
        if mine != set():
            yield from _lines(family, hierarchy, axes, mine, swap_issuers)


def dilemmas(
    family: FamilySpec,
    hierarchy: Hierarchy,
    axes: Mapping[str, list[str]],
    seed: int,
    sample: int | None = None,
    swap_issuers: bool = False,
) -> Iterator[Dilemma]:
    """The same dilemmas as `dilemma_lines`, parsed: for code that works on them in memory."""
    for line in dilemma_lines(family, hierarchy, axes, seed, sample, swap_issuers):
        yield Dilemma.model_validate_json(line.json)


class _Writer:
    """Writes batches of lines on a second thread: the kernel's copy of each write (as much CPU
    as rendering, at a million dilemmas) then overlaps with rendering instead of following it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.batches: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="jsonl-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (batch := self.batches.get()) is not None:
            if self.error is None:
                try:
                    _write_all(self.handle, b"\n".join(batch) + b"\n")
                except BaseException as exc:
                    self.error = exc

    def put(self, batch: list[bytes]) -> None:
        if self.error is not None:
            raise self.error
        if batch:
            self.batches.put(batch)

    def close(self) -> None:
        self.batches.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _write_all(handle: IO[bytes], data: bytes) -> None:
    """An unbuffered write may take less than it was given (a disk filling up does exactly
    that, without an error): write the rest until it is all taken or the kernel says why not."""
    view = memoryview(data)
    while view:
        taken = handle.write(view)
        if not taken:
            raise OSError(errno.ENOSPC, "the file took no more bytes")
        view = view[taken:]


def write_jsonl(lines: Iterable[Line], output: Path, batch_size: int = 256) -> Summary:
    """Stream dilemma lines into `output` atomically; returns what was written."""
    summary = Summary()
    with atomic_file(output, binary=True, buffering=0) as handle:
        writer = _Writer(handle)
        try:
            batch: list[bytes] = []
            for line in lines:
                batch.append(line.json)
                summary.add(line.family, line.point)
                if len(batch) == batch_size:
                    writer.put(batch)
                    batch = []
            writer.put(batch)
        finally:
            writer.close()
    return summary
