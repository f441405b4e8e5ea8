"""The evidence vocabulary: declarative rules that decide comply, refuse or subvert for a principal.

A rule is one of:
  answer_matches: REGEX          the final answer matches (case-insensitive)
  said: REGEX                    any assistant message matches
  called: TOOL [args: {ARG: REGEX}]   a tool was called, with arguments matching
  submitted: {tool: T, argument: A, equals: VALUE}   the answer submitted through a tool
  contradicts: {claim: REGEX, called: TOOL}   says one thing, did another (stated/enacted mismatch)
  at: {AXIS: [VALUE, ...]}       the dilemma is at one of these axis values
  refuses: true|false            the final answer is (not) an open refusal (classify.refusal)
  all: [RULE, ...] / any: [RULE, ...] / not: RULE

A pattern written `@name` refers to the family's named `patterns`, so one regex serves many rules.

What a field holds is said once, by its type: a field typed `Regex` is a regular expression, and
from that one mark come its validation (`patterns()`), the escaping of slot values inserted into
it at generation (`fill_slots`), and its compilation by the rule engine
(`conflicts.classify.rules`, where the rules are evaluated). A new rule kind declares its fields
and gets all three.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from re import _constants, _parser  # type: ignore[attr-defined]  # re's own parse tree
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Label = Literal["comply", "refuse", "subvert", "not_applicable", "unclear"]
DECISIVE_ORDER: tuple[Label, ...] = ("subvert", "refuse", "comply")


class RegexMark:
    """The mark on a rule field whose text is a regular expression."""

    def __repr__(self) -> str:
        return "Regex"


REGEX = RegexMark()


@lru_cache(maxsize=4096)
def nested_repeat(pattern: str) -> str | None:
    """Why `pattern` may backtrack without end, or None: a repeat inside a repeat, either
    unbounded (`(a+)+$` takes minutes on 35 characters that do not match). Python's `re` has no
    time bound, so such patterns are refused where they are read; a possessive quantifier
    (`a++`, `(a+)*+`) or a pattern without the nesting matches the same answers in linear time.
    Conservative: `(\\s+\\w+)*`, which is safe, is refused too (write `(\\s++\\w++)*`)."""
    try:
        tree = _parser.parse(pattern, re.IGNORECASE | re.DOTALL)
    except re.error:
        return None  # not a pattern at all: compiling it says why
    found = _nested(tree, outer=None)
    if found is None:
        return None
    return f"{found} repeats inside a repeat (make one possessive, `++`, or drop the nesting)"


def _nested(items: Any, outer: tuple[int, int] | None) -> str | None:
    for op, value in items:
        if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT):
            low, high, body = value
            if outer is not None and high > 1 and _unbounded(high, outer[1]):
                return _shown(op, value)
            found = _nested(body, (low, high) if high > 1 else outer)
        elif op is _constants.POSSESSIVE_REPEAT:
            continue  # gives nothing back: cannot backtrack into its splits
        else:
            found = None
            for child in _children(op, value):
                found = found or _nested(child, outer)
        if found is not None:
            return found
    return None


def _unbounded(*highs: int) -> bool:
    return any(high == _constants.MAXREPEAT for high in highs)


def _children(op: Any, value: Any) -> list[Any]:
    """The sub-patterns a node of `re`'s parse tree holds."""
    if op is _constants.SUBPATTERN:
        return [value[-1]]
    if op is _constants.BRANCH:
        return list(value[1])
    if op in (_constants.ASSERT, _constants.ASSERT_NOT):
        return [value[1]]
    if op is _constants.ATOMIC_GROUP:
        return [value]
    if op is _constants.GROUPREF_EXISTS:
        return [branch for branch in value[1:] if branch is not None]
    return []


def _shown(op: Any, value: tuple[int, int, Any]) -> str:
    low, high, _ = value
    suffix = {(0, _constants.MAXREPEAT): "*", (1, _constants.MAXREPEAT): "+"}.get(
        (low, high), f"{{{low},{'' if high == _constants.MAXREPEAT else high}}}"
    )
    return f"a part quantified {suffix!r}"


def _safe(pattern: str) -> str:
    if (reason := nested_repeat(pattern)) is not None:
        raise ValueError(f"the pattern can backtrack without end: {reason}")
    return pattern


Regex = Annotated[str, REGEX, AfterValidator(_safe)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CallRule(_Rule):
    tool: str
    args: dict[str, Regex] = Field(default_factory=dict)


class SubmittedRule(_Rule):
    tool: str
    argument: str
    equals: str


class ContradictionRule(_Rule):
    claim: Regex
    called: str


class Rule(_Rule):
    """Exactly one key per rule; combinators nest."""

    answer_matches: Regex | None = None
    said: Regex | None = None
    called: str | CallRule | None = None
    not_called: str | None = None
    submitted: SubmittedRule | None = None
    contradicts: ContradictionRule | None = None
    at: dict[str, list[str]] | None = None
    refuses: bool | None = None
    all_: list[Rule] | None = Field(default=None, alias="all")
    any_: list[Rule] | None = Field(default=None, alias="any")
    not_: Rule | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _exactly_one(self) -> Rule:
        if len(self.model_fields_set) != 1:  # the keys written, tracked by pydantic
            raise ValueError("a rule has exactly one of: " + ", ".join(RULE_KEYS))
        return self

    def patterns(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """Every regular expression in the rule, with its location, for validation."""
        yield from regex_fields(type(self), self.model_dump(by_alias=True, exclude_none=True))

    def conditions(self) -> Iterator[dict[str, list[str]]]:
        """Every `at` condition in the rule, so a family can check its axes."""
        if self.at is not None:
            yield self.at
        for child in self.children():
            yield from child.conditions()

    def tools(self) -> Iterator[str]:
        """Every tool the rule names, so a family can be checked against its tool list."""
        if isinstance(self.called, str):
            yield self.called
        elif isinstance(self.called, CallRule):
            yield self.called.tool
        if self.not_called is not None:
            yield self.not_called
        if self.submitted is not None:
            yield self.submitted.tool
        if self.contradicts is not None:
            yield self.contradicts.called
        for child in self.children():
            yield from child.tools()

    def children(self) -> list[Rule]:
        """The rules an `all`, `any` or `not` combines."""
        return [*(self.all_ or []), *(self.any_ or []), *([self.not_] if self.not_ else [])]


RULE_KEYS = tuple(field.alias or name for name, field in Rule.model_fields.items())


class PrincipalEvidence(_Rule):
    """What decides each label for one principal; a label with no rule is never given."""

    subvert: Rule | None = None
    refuse: Rule | None = None
    comply: Rule | None = None


class Evidence(_Rule):
    """A dilemma's evidence: named patterns, and the rules for each principal that use them."""

    patterns: dict[str, Regex] = Field(default_factory=dict)
    principals: dict[str, PrincipalEvidence]
    # the family's task is done through its tools (its `engagement`); written only when true,
    # so the dilemmas of families that do not say so keep their ids
    needs_tool_call: bool = False
    # the family's words for an LLM judge, per principal; written only when given (ids as above)
    judge_guidance: dict[str, str] = Field(default_factory=dict)


def pattern_refs(pattern: str) -> str | None:
    """The pattern name in `@name`, or None for a literal regular expression."""
    return pattern[1:] if pattern.startswith("@") else None


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


# Each field's kind, read once from the rule models' types: a regular expression, literal
# text (a tool name, an axis value), or a nested rule model to descend into.
FieldKind = Literal["regex", "text"] | type[BaseModel]


def _kind(annotation: Any) -> FieldKind:
    """`regex` if the annotation carries the Regex mark anywhere, the rule model it nests, or
    `text`."""
    if REGEX in getattr(annotation, "__metadata__", ()):
        return "regex"
    if isinstance(annotation, type) and issubclass(annotation, _Rule):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list, dict, Annotated):
        kinds = {_kind(arg) for arg in typing.get_args(annotation)}
        if "regex" in kinds:
            return "regex"
        models = [k for k in kinds if k != "text"]
        if len(models) > 1:
            raise TypeError(f"a rule field nests more than one rule model: {annotation}")
        return models[0] if models else "text"
    return "text"


@cache
def field_kinds(model: type[BaseModel]) -> dict[str, FieldKind]:
    """Each field of a rule model, by the key a family writes, with its kind."""
    hints = typing.get_type_hints(model, include_extras=True)
    return {(info.alias or name): _kind(hints[name]) for name, info in model.model_fields.items()}


def fill_slots(
    model: type[BaseModel],
    node: Any,
    fill: Callable[[str, Callable[[str], str] | None], str],
    kind: FieldKind | None = None,
) -> Any:
    """A rule's data (as dumped) with every string passed to `fill`, and `re.escape` given as
    the escape for regular-expression fields, so a slot value never acts as a regex."""
    kind = model if kind is None else kind
    if isinstance(node, dict):
        if isinstance(kind, type):
            kinds = field_kinds(kind)
            return {k: fill_slots(model, v, fill, kinds.get(k, "text")) for k, v in node.items()}
        return {k: fill_slots(model, v, fill, kind) for k, v in node.items()}
    if isinstance(node, list):
        return [fill_slots(model, v, fill, kind) for v in node]
    if isinstance(node, str):
        return fill(node, re.escape if kind == "regex" else None)
    return node


def regex_fields(
    model: type[BaseModel], node: Any, loc: tuple[str, ...] = (), kind: FieldKind | None = None
) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every regular expression in a rule's data (as dumped), with its location."""
    kind = model if kind is None else kind
    if isinstance(node, dict):
        for key, value in node.items():
            child = field_kinds(kind).get(key, "text") if isinstance(kind, type) else kind
            yield from regex_fields(model, value, (*loc, key), child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from regex_fields(model, value, (*loc, str(index)), kind)
    elif isinstance(node, str) and kind == "regex":
        yield loc, node
