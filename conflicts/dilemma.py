"""The dilemma record: one family rendered at one point of its axes under one hierarchy.

This is the JSONL line `ihsim generate` writes and `ihsim run` reads; it is self-contained, so a
dilemma file can be run, classified and audited without the family file that made it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conflicts.errors import DilemmaFileError
from conflicts.evidence import Evidence, Label
from hierarchy.errors import format_field

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
    tool_calls: list[ToolCall] = []
    tool_call_id: str | None = None
    name: str | None = None


class ToolCase(Record):
    """One scripted answer: used when every `when` regex matches its argument; `sets` updates
    the environment's state, so a write changes what later reads return."""

    when: dict[str, str] = {}
    returns: str
    sets: dict[str, str] = {}


class ToolSpec(Record):
    name: str
    description: str
    parameters: dict[str, Any]
    results: list[ToolCase] = []


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


class ConflictRecord(Record):
    """A conflict and the resolution the hierarchy prescribes (`winner` None: unordered)."""

    directives: tuple[str, str]
    principals: tuple[str, str]
    winner: str | None
    basis: str


class Move(Record):
    """A scripted response for the simulated personas, with the labels its author intends."""

    id: str
    intent: dict[str, Label]
    say: str
    calls: list[ToolCall] = []


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
    tools: list[ToolSpec] = []
    environment: dict[str, str] = {}
    evidence: Evidence
    moves: list[Move] = []

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_defaults=False)


def read_dilemmas(path: Path) -> Iterator[tuple[int, Dilemma]]:
    """Stream (line number, dilemma) from JSONL; a bad line raises with its number and field."""
    file = str(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DilemmaFileError(f"cannot read: {exc.strerror or exc}", file=file) from None
    count = 0
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                yield number, parse_line(line, file, number)
                count += 1
        except UnicodeDecodeError:
            raise DilemmaFileError("not UTF-8 text", file=file) from None
    if count == 0:
        raise DilemmaFileError("no dilemmas in file", file=file)


def parse_line(line: str, file: str, number: int) -> Dilemma:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DilemmaFileError(f"not JSON: {exc.msg}", file=file, line=number) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DilemmaFileError(f"not an ihsim dilemma (schema {SCHEMA!r})", file=file, line=number)
    try:
        return Dilemma.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = format_field([p for p in first["loc"] if isinstance(p, str | int)])
        raise DilemmaFileError(first["msg"], file=file, line=number, loc=(field,)) from None
