"""Transcripts from elsewhere: a documented JSONL format and Inspect AI logs, placed in a family's
dilemmas so they can be classified per principal like transcripts ihsim ran itself.

One JSONL line, `ihsim.transcript/1`:

    {"model": "openai/gpt-4.1",
     "messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."},
                  {"role": "assistant", "content": "", "tool_calls": [
                      {"id": "c1", "name": "read_file", "arguments": {"path": "notes.txt"}}]},
                  {"role": "tool", "tool_call_id": "c1", "name": "read_file", "content": "..."},
                  {"role": "assistant", "content": "Done."}],
     "axes": {"framing": "prohibitive", "cue_strength": "subtle"},
     "final_answer": "Done.", "epoch": 0}

`messages` is the whole conversation; the model's part starts at the first assistant message, or
after `prompt_length` messages when the prompt itself holds earlier assistant turns. Optional:
`dilemma` (the id of the family dilemma it answers, instead of `axes`), `setting` (which of the
family's settings, default 0), `final_answer` (default: the last assistant text), `reasoning`,
`epoch` (default: counted per dilemma and model), `source_id`.

The transcript keeps its own prompt: it is stored against a copy of the family's dilemma whose
messages are that prompt, so judges and reviewers read what the model actually read.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conflicts.errors import DilemmaFileError
from conflicts.scenarios.dilemma import Dilemma, Message, ToolCall
from conflicts.scenarios.family import FamilySpec
from conflicts.scenarios.generate import Line, dilemma_lines
from conflicts.store.database import RunInfo, Store, now
from conflicts.store.run_defaults import MAX_EPOCHS
from conflicts.store.run_settings import ImportedSettings
from conflicts.store.transcript import StopReason, Transcript
from hierarchy.errors import format_field, message_of

SCHEMA = "ihsim.transcript/1"


class ImportedCall(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = ""
    name: str
    arguments: dict[str, Any] = {}


class ImportedMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str = ""
    tool_calls: list[ImportedCall] = []
    tool_call_id: str | None = None
    name: str | None = None


class ImportedTranscript(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: str | None = None
    model: str
    messages: list[ImportedMessage]
    prompt_length: int | None = None
    dilemma: str | None = None
    axes: dict[str, str] | None = None
    setting: int = 0
    final_answer: str | None = None
    reasoning: str | None = None
    epoch: int | None = Field(None, ge=0, lt=MAX_EPOCHS)
    source_id: str | None = None
    stop_reason: StopReason = "answered"


class Misplaced(Exception):
    """A record that does not fit the family: where in the record, and why."""

    def __init__(self, loc: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


@dataclass(frozen=True)
class Placed:
    """An imported transcript with the dilemma it answers."""

    dilemma: Dilemma
    body: str
    transcript: Transcript


class Catalogue:
    """The family's dilemmas under one hierarchy, found by id or by axes and setting."""

    def __init__(self, family: FamilySpec, hierarchy: Any) -> None:
        axes = {axis: list(values) for axis, values in family.supported_axes().items()}
        self.family = family
        lines = list(dilemma_lines(family, hierarchy, axes, 0))
        self.items = list(self._parsed(lines))
        self.bodies = {
            d.id: json.loads(line.json) for d, line in zip(self.items, lines, strict=True)
        }
        self.by_id = {d.id: d for d in self.items}
        self.by_point = {(_point(d.axes), d.setting): d for d in self.items}

    @staticmethod
    def _parsed(lines: list[Line]) -> Iterator[Dilemma]:
        return (Dilemma.model_validate_json(line.json) for line in lines)

    def find(self, record: ImportedTranscript) -> Dilemma:
        if record.dilemma is not None:
            if record.dilemma not in self.by_id:
                raise Misplaced(
                    ("dilemma",), f"no dilemma {record.dilemma!r} in family {self.family.id}"
                )
            return self.by_id[record.dilemma]
        varied = sorted(self.family.supported_axes())
        given = record.axes or {}
        if set(given) != set(varied):
            raise Misplaced(
                ("axes",),
                f"give the value of each axis family {self.family.id} varies "
                f"({', '.join(varied)}), or a dilemma id",
            )
        found = self.by_point.get((_point(given), record.setting))
        if found is None:
            raise Misplaced(("axes",), f"no dilemma of {self.family.id} at {_point(given)}")
        return found


def _point(axes: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(axes.items()))


def read_records(path: Path) -> Iterator[tuple[str, int | None, dict[str, Any]]]:
    """(where, line, raw record) from a JSONL file or an Inspect log."""
    file = str(path)
    if path.suffix in (".eval", ".json"):
        from conflicts.run.inspect_logs import record, samples

        for where, model, sample in samples(path):
            yield f"{file}:{where}", None, record(model, sample)
        return
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DilemmaFileError(f"cannot read: {exc.strerror or exc}", file=file) from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DilemmaFileError(f"not JSON: {exc.msg}", file=file, line=number) from None
                if not isinstance(raw, dict):
                    raise DilemmaFileError("not a transcript record", file=file, line=number)
                yield file, number, raw
        except UnicodeDecodeError:
            raise DilemmaFileError("not UTF-8 text", file=file) from None


def place(path: Path, catalogue: Catalogue, default_model: str | None) -> list[Placed]:
    """Every record of the file checked and placed; the first bad one raises, located."""
    placed: list[Placed] = []
    epochs: Counter[tuple[str, str]] = Counter()
    for where, line, raw in read_records(path):
        raw = {("schema_" if k == "schema" else k): v for k, v in raw.items()}
        if default_model and not raw.get("model"):
            raw["model"] = default_model
        try:
            record = ImportedTranscript.model_validate(raw)
            if record.schema_ not in (None, SCHEMA):
                raise Misplaced(("schema",), f"unknown schema {record.schema_!r} (want {SCHEMA!r})")
            base = catalogue.find(record)
            item = _placed(record, base, catalogue, epochs)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = format_field([p for p in first["loc"] if isinstance(p, str | int)])
            raise DilemmaFileError(message_of(first), file=where, line=line, loc=(field,)) from None
        except Misplaced as exc:
            raise DilemmaFileError(exc.message, file=where, line=line, loc=exc.loc) from None
        placed.append(item)
    if not placed:
        raise DilemmaFileError("no transcripts in file", file=str(path))
    return placed


def _placed(
    record: ImportedTranscript,
    base: Dilemma,
    catalogue: Catalogue,
    epochs: Counter[tuple[str, str]],
) -> Placed:
    messages = [_message(m) for m in record.messages]
    if not messages:
        raise Misplaced(("messages",), "empty")
    start = record.prompt_length
    if start is None:
        start = next((i for i, m in enumerate(messages) if m.role == "assistant"), len(messages))
    if not 0 < start <= len(messages):
        raise Misplaced(("prompt_length",), f"must be between 1 and {len(messages)}")
    prompt, added = messages[:start], messages[start:]
    if not any(m.role == "assistant" for m in added):
        raise Misplaced(("messages",), "no assistant message after the prompt")
    prompt_json = json.dumps([m.model_dump(exclude_defaults=True) for m in prompt], sort_keys=True)
    dilemma_id = hashlib.sha256(f"{base.id}:{prompt_json}".encode()).hexdigest()[:16]
    dilemma = base.model_copy(update={"id": dilemma_id, "messages": prompt})
    body = json.dumps(
        {
            **catalogue.bodies[base.id],
            "id": dilemma_id,
            "messages": [m.model_dump(exclude_defaults=True) for m in prompt],
        }
    )
    key = (dilemma_id, record.model)
    epoch = record.epoch if record.epoch is not None else epochs[key]
    epochs[key] = max(epochs[key], epoch) + 1
    answer = record.final_answer
    if answer is None:
        answer = next((m.content for m in reversed(added) if m.role == "assistant"), "")
    transcript = Transcript(
        run_id="",
        dilemma_id=dilemma_id,
        model=record.model,
        epoch=epoch,
        messages=added,
        final_answer=answer,
        reasoning=record.reasoning,
        stop_reason=record.stop_reason,
    )
    return Placed(dilemma, body, transcript)


def _message(message: ImportedMessage) -> Message:
    if message.role not in ("system", "user", "assistant", "tool"):
        raise Misplaced(("messages", "role"), f"unknown role {message.role!r}")
    calls = [
        ToolCall(id=c.id or f"call_{i}", name=c.name, arguments=c.arguments)
        for i, c in enumerate(message.tool_calls)
    ]
    return Message(
        role=message.role,
        content=message.content,
        tool_calls=calls,
        tool_call_id=message.tool_call_id,
        name=message.name,
    )


def import_run(
    store: Store, path: Path, placed: list[Placed], source_sha256: str, family: str, hierarchy: str
) -> tuple[RunInfo, int]:
    """One run holding the imported transcripts, written in one transaction; importing the same
    file again finds the run and adds nothing twice. Returns the run and how many were new."""
    key = json.dumps([source_sha256, family, hierarchy])
    run_id = "import-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    info = RunInfo(
        id=run_id,
        created_at=now(),
        source=str(path),
        models=sorted({p.transcript.model for p in placed}),
        epochs=max(p.transcript.epoch for p in placed) + 1,
        params=ImportedSettings(
            imported=path.suffix.lstrip(".") or "jsonl", family=family, hierarchy=hierarchy
        ).params(),
        dilemma_count=len({p.dilemma.id for p in placed}),
    )
    before = store.transcript_counts(run_id).get("ok", 0) if store.has_run(run_id) else 0
    with store.transaction():
        if not store.has_run(run_id):
            store.add_run(info, source_sha256)
            unique = {p.dilemma.id: p for p in placed}
            store.add_dilemmas(run_id, ((p.dilemma, p.body) for p in unique.values()))
        store.insert_transcripts(p.transcript.model_copy(update={"run_id": run_id}) for p in placed)
    after = store.transcript_counts(run_id).get("ok", 0)
    return store.run(run_id), after - before
