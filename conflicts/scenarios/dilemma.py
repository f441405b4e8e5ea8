"""The dilemma record: one family rendered at one point of its axes under one hierarchy.

This is the JSONL line `ihsim generate` writes and `ihsim run` reads; it is self-contained, so a
dilemma file can be run, classified and audited without the family file that made it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conflicts.errors import DilemmaFileError
from conflicts.scenarios.evidence import Evidence, Label
from hierarchy.errors import format_field, message_of

SCHEMA = "ihsim.dilemma/1"
Role = Literal["system", "user", "assistant", "tool"]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolCall(Record):
    id: str
    name: str
    arguments: dict[str, Any]


class Message(Record):
    """One message; `principal` says whose words it carries, `channel` how they arrived."""

    role: Role
    content: str
    principal: str | None = None
    channel: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    # An assistant's reasoning blocks as the provider returned them (Anthropic's signed
    # thinking), sent back unchanged, as a tool loop with thinking on requires; their text is
    # the transcript's reasoning.
    thinking: list[dict[str, Any]] = Field(default_factory=list)


class ToolCase(Record):
    """One scripted answer: used when every `when` regex matches its argument; `sets` updates
    the environment's state, so a write changes what later reads return."""

    when: dict[str, str] = Field(default_factory=dict)
    returns: str
    sets: dict[str, str] = Field(default_factory=dict)


class ToolSpec(Record):
    name: str
    description: str
    parameters: dict[str, Any]
    results: list[ToolCase] = Field(default_factory=list)


class DirectiveRecord(Record):
    id: str
    principal: str
    kind: str
    text: str
    channel: str
    verified: bool
    claims: str | None = None
    authority: str
    source: Literal["family", "hierarchy"] = "family"
    # whose evidence rules judge whether it was honoured, when an issuer swap gave the family's
    # directive to another principal (`principal` is then the issuer in this variant)
    judged_as: str | None = None

    @property
    def judged_by(self) -> str:
        return self.judged_as or self.principal


class ConflictRecord(Record):
    """A conflict and the resolution the hierarchy prescribes (`winner` None: unordered)."""

    directives: tuple[str, str]
    principals: tuple[str, str]
    winner: str | None
    basis: str

    @property
    def loser(self) -> str | None:
        if self.winner is None:
            return None
        first, second = self.principals
        return second if self.winner == first else first


class SwapRecord(Record):
    """What an issuer swap changed: one directive's issuer, channel and claimed identity."""

    id: str
    directive: str
    issuer: str
    channel: str
    claims: str | None = None


class Move(Record):
    """A scripted response for the simulated personas, with the labels its author intends."""

    id: str
    intent: dict[str, Label]
    say: str
    calls: list[ToolCall] = Field(default_factory=list)


class Dilemma(Record):
    schema_: str = Field(default=SCHEMA, alias="schema")
    id: str
    family: str
    family_version: int
    hierarchy: str
    axes: dict[str, str]
    setting: int
    principals: list[str]
    directives: list[DirectiveRecord]
    conflicts: list[ConflictRecord]
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    evidence: Evidence
    moves: list[Move] = Field(default_factory=list)
    # the axis points whose renderings were word for word this dilemma, when there were several
    # (`axes` then says "not varied here" for the axes they differ in); absent when one
    stands_for: list[dict[str, str]] = Field(default_factory=list)
    # issuer-swap minimal pairs: the id of the original rendering every variant of one point
    # stands beside (the original's own id on the original), and what this variant swapped
    pair: str | None = None
    swap: SwapRecord | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def judged_sides(self, conflict: ConflictRecord) -> tuple[str, str]:
        """The principals whose verdicts tell whether each side of a conflict was honoured:
        the directives' own, or, for a swapped directive, the family's principal for it."""
        by_id = {d.id: d.judged_by for d in self.directives}
        first, second = conflict.directives
        return by_id.get(first, conflict.principals[0]), by_id.get(second, conflict.principals[1])

    def judged_winner(self, conflict: ConflictRecord) -> tuple[str | None, str | None]:
        """The prescribed winner and loser of a conflict, as the principals whose verdicts
        judge their directives (what adherence and the personas read)."""
        if conflict.winner is None:
            return None, None
        sides = self.judged_sides(conflict)
        won = 0 if conflict.winner == conflict.principals[0] else 1
        return sides[won], sides[1 - won]


def read_dilemmas(path: Path) -> Iterator[tuple[int, Dilemma]]:
    """Stream (line number, dilemma) from JSONL; a bad line raises with its number and field."""
    for number, _, dilemma in read_dilemma_lines(path):
        yield number, dilemma


def read_dilemma_lines(path: Path) -> Iterator[tuple[int, str, Dilemma]]:
    """Stream (line number, the line's JSON, dilemma): the store keeps the JSON as it came."""
    file = str(path)
    seen: dict[str, int] = {}
    for number, line in jsonl_lines(path):
        text = line.strip()
        dilemma = parse_line(text, file, number)
        if (first := seen.setdefault(dilemma.id, number)) != number:
            # a run would count it twice and store it once: never complete, never right
            raise DilemmaFileError(
                f"dilemma {dilemma.id} repeats line {first}", file=file, line=number
            )
        yield number, text, dilemma
    if not seen:
        raise DilemmaFileError("no dilemmas in file", file=file)


def jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) for every line of a JSONL file that is not blank, streamed; a file
    that cannot be opened or is not UTF-8 is one located error."""
    file = str(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DilemmaFileError(f"cannot read: {exc.strerror or exc}", file=file) from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line
        except UnicodeDecodeError:
            raise DilemmaFileError("not UTF-8 text", file=file) from None


def parse_line(line: str, file: str, number: int) -> Dilemma:
    """One validated dilemma, parsed by pydantic's own JSON reader; errors name line and field."""
    try:
        dilemma = Dilemma.model_validate_json(line)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            detail = str(first.get("ctx", {}).get("error", first["msg"]))
            raise DilemmaFileError(f"not JSON: {detail}", file=file, line=number) from None
        if first["type"] == "model_type" or not _is_ours(line):
            raise DilemmaFileError(
                f"not an ihsim dilemma (schema {SCHEMA!r})", file=file, line=number
            ) from None
        field = format_field([p for p in first["loc"] if isinstance(p, str | int)])
        raise DilemmaFileError(message_of(first), file=file, line=number, loc=(field,)) from None
    if dilemma.schema_ != SCHEMA:
        raise DilemmaFileError(f"not an ihsim dilemma (schema {SCHEMA!r})", file=file, line=number)
    expected = id_of_line(line)
    if dilemma.id != expected and dilemma.id != legacy_id(orjson.loads(line)):
        raise DilemmaFileError(
            f"the content does not match the id (it hashes to {expected!r}): an edited dilemma"
            " needs a new id, or `ihsim generate` to write it",
            file=file,
            line=number,
            loc=("id",),
        )
    return dilemma


# What a dilemma's id leaves out: everything but what the model sees and is scored against. The
# axis point, setting and persona moves say where a rendering came from, not what it is, so two
# points that render word for word alike are one dilemma (`generate` collapses them). The axis
# values an evidence rule's `at:` condition reads are scored against, and are kept as `scored_at`.
NOT_SEEN = ("id", "axes", "setting", "moves", "stands_for", "pair", "swap")


def content_id(canonical: bytes) -> str:
    """A dilemma's id: the hash of canonical JSON (sorted keys, orjson's compact form), so the
    same content always has the same id and an edit changes it."""
    return hashlib.sha256(canonical).hexdigest()[:16]


def seen_id(canonical_seen: bytes, scored_at: dict[str, str]) -> str:
    """The id of what a dilemma shows the model and scores it against: the canonical JSON of
    its body without `NOT_SEEN`, and the axis values its rules' `at:` conditions read."""
    if scored_at:
        canonical_seen += b"\x00" + orjson.dumps(scored_at, option=orjson.OPT_SORT_KEYS)
    return content_id(canonical_seen)


def legacy_id(body: dict[str, Any]) -> str:
    """The id a dilemma had before alike renderings were one: the hash of all but its id. Lines,
    logs and gold files that name a dilemma by it still find it."""
    return content_id(
        orjson.dumps({k: v for k, v in body.items() if k != "id"}, option=orjson.OPT_SORT_KEYS)
    )


def id_of_line(line: str | bytes) -> str:
    """The id a dilemma line's content hashes to, whatever id it states."""
    body = orjson.loads(line)
    raw = line.encode() if isinstance(line, str) else line
    scored = scored_axes(body) if b'"at"' in raw else {}  # few rules read an axis: skip the walk
    for key in NOT_SEEN:
        body.pop(key, None)
    return seen_id(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), scored)


def scored_axes(body: dict[str, Any]) -> dict[str, str]:
    """The dilemma's values of the axes its evidence rules' `at:` conditions name."""
    named: set[str] = set()
    stack: list[Any] = [body.get("evidence", {}).get("principals", {})]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            at = node.get("at")
            if isinstance(at, dict):
                named.update(at)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    axes = body.get("axes", {})
    return {a: axes[a] for a in sorted(named) if a in axes}


def _is_ours(line: str) -> bool:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and data.get("schema") == SCHEMA
