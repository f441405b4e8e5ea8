"""Scenario families: YAML data files that a researcher writes without touching Python.

A family names its principals and their directives, the messages as `{{ slot }}` templates, the
axes it varies and the text each axis value puts into the slots, the evidence that decides each
principal's label, and scripted moves for the simulated personas.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field

from conflicts.errors import FamilyError
from conflicts.scenarios.acts import act_name, acts
from conflicts.scenarios.axes import AXES
from conflicts.scenarios.evidence import (
    DECISIVE_ORDER,
    Label,
    PrincipalEvidence,
    Rule,
    compile_pattern,
    nested_repeat,
    pattern_refs,
)
from conflicts.scenarios.templates import render, slots_in
from hierarchy.errors import Location
from hierarchy.source import NamedFiles, load_model
from hierarchy.spec import ID_PATTERN, DirectiveSpec, Strict

FAMILY_DIR = Path(__file__).parent / "families"


class Conditional(Strict):
    """Present only at some axis values: `only_when: {refusal_option: [available]}`."""

    only_when: dict[str, list[str]] = {}

    def present(self, point: Mapping[str, str]) -> bool:
        return all(point.get(axis) in values for axis, values in self.only_when.items())


class MessageTemplate(Strict):
    role: str = Field(pattern="^(system|user|assistant)$")
    principal: str | None = None
    content: str = Field(min_length=1)


class ConflictSpec(Strict):
    between: tuple[str, str]
    scope: str | None = None


class ToolCaseTemplate(Strict):
    when: dict[str, str] = {}
    returns: str
    sets: dict[str, str] = {}


class ToolTemplate(Conditional):
    name: str = Field(pattern=ID_PATTERN)
    description: str
    parameters: dict[str, object] = {"type": "object", "properties": {}}
    results: list[ToolCaseTemplate] = [ToolCaseTemplate(returns="ok")]

    def argument_names(self) -> set[str]:
        properties = self.parameters.get("properties", {})
        return set(properties) if isinstance(properties, dict) else set()


class CallTemplate(Strict):
    name: str
    arguments: dict[str, str] = {}


class MoveTemplate(Conditional):
    id: str = Field(pattern=ID_PATTERN)
    intent: dict[str, Label]
    say: str = ""
    calls: list[CallTemplate] = []


class FamilyDirective(DirectiveSpec, Conditional):
    """A directive that may be present only at some axis values (`prohibition: [explicit]`)."""


class SwapTarget(Strict):
    """Where a swapped directive's words arrive: a message of the family (by index) or every
    scripted result of a tool."""

    message: int | None = Field(default=None, ge=0)
    tool: str | None = None


class IssuerSwap(Strict):
    """The same directive, word for word, issued by another principal through its own channel
    (`ihsim generate --swap-issuers`): everything else in the dilemma stays as it was.

    The words leave the place the family put them and arrive `into` a system or user message
    (at its `end` or `start`) or a tool's results, framed by `frame` (which must hold
    `{{ text }}`: "A note from the owner: {{ text }}"). The channel follows from where they
    arrive; `document` marks words quoted as a document inside a user message or a tool result.
    `claims` is whom the issuer says it is, as an identity-claim directive states it.
    """

    id: str | None = Field(default=None, pattern=ID_PATTERN)
    directive: str
    issuer: str = Field(pattern=ID_PATTERN)
    claims: str | None = Field(default=None, pattern=ID_PATTERN)
    into: SwapTarget
    at: Literal["start", "end"] | None = None
    channel: Literal["document"] | None = None
    frame: str = "{{ text }}"

    @property
    def name(self) -> str:
        """The variant's name, as the `issuer_swap` axis shows it."""
        if self.id is not None:
            return self.id
        claim = f"-claiming-{self.claims}" if self.claims else ""
        via = f"-via-{self.channel}" if self.channel else ""
        return f"{self.directive}-by-{self.issuer}{claim}{via}"


class Engagement(Strict):
    """What taking part means in a family, beyond a non-empty answer that is not an echo."""

    # the task is done through its tools: an answer with no tool call that does not openly
    # refuse is not taking part, and no rule is tried on it
    needs_tool_call: bool = False


class FamilySpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    title: str
    summary: str
    source: str = ""
    principals: list[str] = Field(min_length=1)
    settings: list[dict[str, str]] = Field(min_length=1)
    axes: dict[str, dict[str, dict[str, str]]] = {}
    directives: list[FamilyDirective] = Field(min_length=1)
    conflicts: list[ConflictSpec] = []
    messages: list[MessageTemplate] = Field(min_length=1)
    tools: list[ToolTemplate] = []
    environment: dict[str, str] = {}
    patterns: dict[str, str] = {}
    evidence: dict[str, PrincipalEvidence]
    engagement: Engagement = Engagement()
    # words for an LLM judge about one principal ("the operator's pricing rule is only in play
    # when the user asks about price"), shown beside that principal's directives
    judge_guidance: dict[str, str] = {}
    moves: list[MoveTemplate] = []
    swaps: list[IssuerSwap] = []

    def supported_axes(self) -> dict[str, tuple[str, ...]]:
        return {axis: tuple(values) for axis, values in self.axes.items()}


def load_family_file(path: Path) -> FamilySpec:
    """Load a family and check it; errors name the file, line and field."""
    return load_model(path, FamilySpec, FamilyError, _checked)


# a built-in family by name, or a YAML file by path
BUILT_IN = NamedFiles(FAMILY_DIR, load_family_file, FamilyError, "family", "not built in")
family_names, load_family = BUILT_IN.names, BUILT_IN.load


def _checked(spec: FamilySpec) -> FamilySpec:
    _check_axes(spec)
    _check_settings(spec)
    _check_directives(spec)
    _check_slots(spec)
    _check_tools(spec)
    _check_evidence(spec)
    _check_moves(spec)
    _check_swaps(spec)
    return spec


def _fail(message: str, *loc: str | int) -> FamilyError:
    return FamilyError(message, loc=tuple(loc))


def _check_axes(spec: FamilySpec) -> None:
    for axis, values in spec.axes.items():
        if axis not in AXES:
            raise _fail(f"unknown axis {axis!r} (known: {', '.join(AXES)})", "axes", axis)
        for value in values:
            if value not in AXES[axis]:
                known = ", ".join(AXES[axis])
                raise _fail(
                    f"unknown value {value!r} for axis {axis} ({known})", "axes", axis, value
                )
        if len(values) < 2:
            raise _fail("an axis needs at least two values", "axes", axis)
        first = next(iter(values.values()))
        for value, slots in values.items():
            if set(slots) != set(first):
                raise _fail("every value of an axis must fill the same slots", "axes", axis, value)


def _check_settings(spec: FamilySpec) -> None:
    keys = set(spec.settings[0])
    for index, setting in enumerate(spec.settings):
        if set(setting) != keys:
            raise _fail("every setting must fill the same slots", "settings", index)


def _check_unique(names: list[str], what: str, *loc: str) -> None:
    """The first name that repeats an earlier one is an error at its own position."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise _fail(f"duplicate {what} {name!r}", loc[0], index, *loc[1:])
        seen.add(name)


def _check_directives(spec: FamilySpec) -> None:
    _check_unique([d.id for d in spec.directives], "directive id", "directives", "id")
    seen = {d.id for d in spec.directives}
    for index, directive in enumerate(spec.directives):
        if directive.principal not in spec.principals:
            raise _fail(
                f"unknown principal {directive.principal!r}", "directives", index, "principal"
            )
        _check_condition(spec, directive, "directives", index)
    for index, conflict in enumerate(spec.conflicts):
        for end, directive_id in enumerate(conflict.between):
            if directive_id not in seen:
                raise _fail(
                    f"unknown directive {directive_id!r}", "conflicts", index, "between", end
                )
        if conflict.between[0] == conflict.between[1]:
            raise _fail("a directive cannot conflict with itself", "conflicts", index, "between")
    for index, message in enumerate(spec.messages):
        if message.principal is not None and message.principal not in spec.principals:
            raise _fail(f"unknown principal {message.principal!r}", "messages", index, "principal")


def _layers(spec: FamilySpec) -> list[tuple[Location, set[str]]]:
    """Each layer of slots, with where it is defined; a template may use the layers before it."""
    return [
        (("settings",), set(spec.settings[0])),
        (("axes",), {s for values in spec.axes.values() for s in next(iter(values.values()))}),
        (("directives",), {d.id for d in spec.directives}),
    ]


def _runtime_slots(spec: FamilySpec, tool: ToolTemplate) -> set[str]:
    """Slots filled when the tool is called: its arguments, and the environment's state."""
    state = set(spec.environment) | {k for t in spec.tools for case in t.results for k in case.sets}
    return {f"arg.{a}" for a in tool.argument_names()} | {f"state.{k}" for k in state}


def _templates(spec: FamilySpec) -> Iterator[tuple[Location, str, int, set[str]]]:
    """Every template with its location, how many slot layers it may use, and runtime slots."""
    for axis, values in spec.axes.items():
        for value, slots in values.items():
            for slot, text in slots.items():
                yield ("axes", axis, value, slot), text, 1, set()
    for index, directive in enumerate(spec.directives):
        yield ("directives", index, "text"), directive.text, 2, set()
    for index, message in enumerate(spec.messages):
        yield ("messages", index, "content"), message.content, 3, set()
    for index, move in enumerate(spec.moves):
        yield ("moves", index, "say"), move.say, 3, set()
        for c, call in enumerate(move.calls):
            for arg, text in call.arguments.items():
                yield ("moves", index, "calls", c, "arguments", arg), text, 3, set()
    for name, pattern in spec.patterns.items():
        yield ("patterns", name), pattern, 3, set()
    for principal, evidence in spec.evidence.items():
        for label in DECISIVE_ORDER:
            rule: Rule | None = getattr(evidence, label)
            for loc, pattern in rule.patterns() if rule else ():
                yield ("evidence", principal, label, *loc), pattern, 3, set()
    for name, text in spec.environment.items():
        yield ("environment", name), text, 3, set()
    for t, tool in enumerate(spec.tools):
        runtime = _runtime_slots(spec, tool)
        yield ("tools", t, "description"), tool.description, 3, set()
        for c, case in enumerate(tool.results):
            yield ("tools", t, "results", c, "returns"), case.returns, 3, runtime
            for key, text in case.sets.items():
                yield ("tools", t, "results", c, "sets", key), text, 3, runtime
            for arg, pattern in case.when.items():
                yield ("tools", t, "results", c, "when", arg), pattern, 3, set()


def _check_slots(spec: FamilySpec) -> None:
    layers = _layers(spec)
    seen: dict[str, Location] = {}
    for where, names in layers:
        for name in sorted(names):
            if name in seen:
                raise _fail(f"slot {name!r} is defined twice (also in {seen[name][0]})", *where)
            seen[name] = where
    for loc, template, depth, runtime in _templates(spec):
        allowed = set().union(*(names for _, names in layers[:depth])) | runtime
        missing = sorted(slots_in(template) - allowed)
        if missing:
            raise _fail(f"template slot {{{{ {missing[0]} }}}} has no value", *loc)


def _check_evidence(spec: FamilySpec) -> None:
    tools = {t.name for t in spec.tools}
    example = dict(spec.settings[0])
    for values in spec.axes.values():
        example.update(next(iter(values.values())))
    example.update({d.id: "x" for d in spec.directives})
    for name, pattern in spec.patterns.items():
        _check_regex(render(pattern, example, re.escape), "patterns", name)
    for principal, words in spec.judge_guidance.items():
        if principal not in spec.principals:
            raise _fail(
                f"guidance for unknown principal {principal!r}", "judge_guidance", principal
            )
        if not words.strip():
            raise _fail("guidance is empty", "judge_guidance", principal)
    for principal, evidence in spec.evidence.items():
        if principal not in spec.principals:
            raise _fail(f"evidence for unknown principal {principal!r}", "evidence", principal)
        for label in DECISIVE_ORDER:
            rule: Rule | None = getattr(evidence, label)
            if rule is None:
                continue
            for condition in rule.conditions():
                _check_axis_values(spec, condition, "evidence", principal, label, "at")
            for tool in rule.tools():
                if tool not in tools:
                    raise _fail(
                        f"evidence names tool {tool!r}, which the family does not give",
                        "evidence",
                        principal,
                        label,
                    )
            for loc, pattern in rule.patterns():
                where = ("evidence", principal, label, *loc)
                ref = pattern_refs(pattern)
                act = None if ref is None else act_name(ref)
                if ref is None:
                    _check_regex(render(pattern, example, re.escape), *where)
                elif act is not None:
                    if act not in acts():
                        known = ", ".join(sorted(acts()))
                        raise _fail(f"no act named {act!r} (the library has: {known})", *where)
                elif ref not in spec.patterns:
                    raise _fail(f"no pattern named {ref!r} in patterns", *where)
    for principal in {d.principal for d in spec.directives} - set(spec.evidence):
        raise _fail(f"principal {principal!r} has directives but no evidence", "evidence")


def _check_regex(pattern: str, *loc: str | int) -> None:
    try:
        compile_pattern(pattern)
    except Exception as exc:
        raise _fail(f"bad regular expression: {exc}", *loc) from None
    if (reason := nested_repeat(pattern)) is not None:
        raise _fail(f"the pattern can backtrack without end: {reason}", *loc)


def _check_condition(spec: FamilySpec, item: Conditional, *loc: str | int) -> None:
    _check_axis_values(spec, item.only_when, *loc, "only_when")


def _check_axis_values(
    spec: FamilySpec, condition: Mapping[str, list[str]], *loc: str | int
) -> None:
    """An `only_when` or `at` condition names axes the family varies, and values they have."""
    for axis, values in condition.items():
        where = (*loc, axis)
        if axis not in spec.axes:
            raise _fail(f"this family does not vary {axis!r}", *where)
        for value in values:
            if value not in spec.axes[axis]:
                raise _fail(f"unknown value {value!r} for axis {axis}", *where)


def _check_tools(spec: FamilySpec) -> None:
    _check_unique([t.name for t in spec.tools], "tool name", "tools", "name")
    for t, tool in enumerate(spec.tools):
        _check_condition(spec, tool, "tools", t)
        arguments = tool.argument_names()
        for c, case in enumerate(tool.results):
            for arg, pattern in case.when.items():
                if arg not in arguments:
                    raise _fail(
                        f"tool {tool.name!r} has no argument {arg!r}",
                        "tools",
                        t,
                        "results",
                        c,
                        "when",
                        arg,
                    )
                _check_regex(pattern, "tools", t, "results", c, "when", arg)


def _check_moves(spec: FamilySpec) -> None:
    tools = {t.name for t in spec.tools}
    _check_unique([m.id for m in spec.moves], "move id", "moves", "id")
    for index, move in enumerate(spec.moves):
        _check_condition(spec, move, "moves", index)
        for principal in move.intent:
            if principal not in spec.principals:
                raise _fail(f"unknown principal {principal!r}", "moves", index, "intent", principal)
        for c, call in enumerate(move.calls):
            if call.name not in tools:
                raise _fail(f"unknown tool {call.name!r}", "moves", index, "calls", c, "name")


def _check_swaps(spec: FamilySpec) -> None:
    """Each swap moves a directive in a conflict to a place that can carry it, under a name
    no other swap has."""
    _check_unique([s.name for s in spec.swaps], "swap", "swaps", "id")
    by_id = {d.id: d for d in spec.directives}
    in_conflict = {i for c in spec.conflicts for i in c.between}
    tools = {t.name for t in spec.tools}
    for index, swap in enumerate(spec.swaps):
        directive = by_id.get(swap.directive)
        if directive is None:
            raise _fail(f"unknown directive {swap.directive!r}", "swaps", index, "directive")
        if swap.directive not in in_conflict:
            raise _fail(
                f"directive {swap.directive!r} is in no conflict: swapping its issuer tests"
                " nothing",
                "swaps",
                index,
                "directive",
            )
        if swap.issuer == directive.principal and swap.claims is None and swap.channel is None:
            raise _fail("the issuer is the directive's own principal", "swaps", index, "issuer")
        target = swap.into
        if (target.message is None) == (target.tool is None):
            raise _fail("give one of message or tool", "swaps", index, "into")
        if target.message is not None:
            if target.message >= len(spec.messages):
                raise _fail(
                    f"the family has {len(spec.messages)} messages",
                    "swaps",
                    index,
                    "into",
                    "message",
                )
            role = spec.messages[target.message].role
            if role == "assistant":
                raise _fail(
                    "words from a principal cannot arrive in the model's own turn",
                    "swaps",
                    index,
                    "into",
                    "message",
                )
            if role == "system" and swap.channel == "document":
                raise _fail(
                    "a document arrives in a user message or a tool result",
                    "swaps",
                    index,
                    "channel",
                )
        elif target.tool not in tools:
            raise _fail(f"unknown tool {target.tool!r}", "swaps", index, "into", "tool")
        if "text" not in slots_in(swap.frame):
            raise _fail("the frame must hold {{ text }}", "swaps", index, "frame")
        layers = _layers(spec)
        allowed = {"text"} | layers[0][1] | layers[1][1]
        missing = sorted(slots_in(swap.frame) - allowed)
        if missing:
            raise _fail(
                f"template slot {{{{ {missing[0]} }}}} has no value", "swaps", index, "frame"
            )
