"""Transcripts from elsewhere, placed in a family's dilemmas so they can be classified per
principal like transcripts ihsim ran itself, every sample accounted for.

One JSONL line, `ihsim.transcript/1`:

    {"model": "openai/gpt-4.1",
     "messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."},
                  {"role": "assistant", "content": "", "tool_calls": [
                      {"id": "c1", "name": "read_file", "arguments": {"path": "notes.txt"}}]},
                  {"role": "tool", "tool_call_id": "c1", "name": "read_file", "content": "..."},
                  {"role": "assistant", "content": "Done."}],
     "source_id": "q17", "epoch": 2, "axes": {"framing": "prohibitive"},
     "scores": {"judge": "C"}, "final_answer": "Done."}

`messages` is the whole conversation; the model's part starts at the first assistant message, or
after `prompt_length` messages when the prompt itself holds earlier assistant turns. Optional:
`dilemma` (the id of the family dilemma it answers), `axes` (any of the family's axes; those not
given are "not recorded"), `setting` (which of the family's settings), `final_answer` (default:
the last assistant text), `reasoning`, `source_id` and `epoch` (the source's own: the sample's
key), `scores` and `metadata` (the source's, kept beside ihsim's verdicts), `error` (the sample
failed at the source: imported as failed).

Each sample is one transcript, keyed by its source: the sample id and epoch, or the line. ihsim's
epoch of a transcript counts the samples of one prompt and model in the order they were read.
A transcript keeps its own prompt: it is stored against a copy of the family's dilemma whose
messages are that prompt, so judges and reviewers read what the model actually read. An axis a
sample does not record is fine wherever the family's evidence does not depend on it; where it
does, the sample cannot be placed, and the account says which axis to give.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conflicts.errors import DilemmaFileError, StoreError
from conflicts.run.import_sources import Batch, Sample
from conflicts.scenarios.axes import NOT_RECORDED
from conflicts.scenarios.dilemma import Dilemma, Message, ToolCall, scored_axes
from conflicts.scenarios.family import FamilySpec
from conflicts.scenarios.generate import lines_with_legacy_ids
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
    setting: int | None = None
    final_answer: str | None = None
    reasoning: str | None = None
    epoch: int | None = Field(None, ge=0, lt=MAX_EPOCHS)
    source_id: str | int | None = None
    stop_reason: StopReason = "answered"


class Misplaced(Exception):
    """A sample that does not fit the family: where in the record, and why."""

    def __init__(self, loc: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


@dataclass(frozen=True)
class Placing:
    """How samples find their axes: `axes` for every sample of the file (`--axes`), the metadata
    key whose object gives each sample's (`--axes-from`), and the model for records without
    one (`-m`)."""

    axes: dict[str, str] = field(default_factory=dict)
    axes_from: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class Placed:
    """An imported transcript with the dilemma it answers."""

    dilemma: Dilemma
    body: str
    transcript: Transcript


@dataclass
class Account:
    """What became of every sample of one batch: the counts `import` prints, and each sample
    that could not be placed with the reason."""

    run_id: str
    read: int = 0
    placed: list[Placed] = field(default_factory=list)
    already: int = 0
    unplaced: list[tuple[str, str]] = field(default_factory=list)  # (where, why)

    @property
    def failed(self) -> int:
        return sum(p.transcript.status == "error" for p in self.placed)

    def reasons(self) -> Counter[str]:
        return Counter(why for _, why in self.unplaced)


class Catalogue:
    """The family's dilemmas under one hierarchy, found by id, or by the axis values and setting
    a sample records: an unrecorded one is left open where the evidence does not depend on it."""

    # what a judge and the rules read besides the prompt: dilemmas equal in these score alike
    SCORED = ("principals", "directives", "conflicts", "tools", "environment", "evidence")

    def __init__(self, family: FamilySpec, hierarchy: Any) -> None:
        axes = {axis: list(values) for axis, values in family.supported_axes().items()}
        self.family = family
        rendered = list(lines_with_legacy_ids(family, hierarchy, axes))
        lines = [line for line, _ in rendered]
        self.items = [Dilemma.model_validate_json(line.json) for line in lines]
        self.bodies = {
            d.id: json.loads(line.json) for d, line in zip(self.items, lines, strict=True)
        }
        self.scored = {  # with the axis values `at:` conditions read: they score too
            d.id: json.dumps(
                [*(self.bodies[d.id].get(k) for k in self.SCORED), scored_axes(self.bodies[d.id])],
                sort_keys=True,
            )
            for d in self.items
        }
        self.by_id = {d.id: d for d in self.items}
        for dilemma, (_, olds) in zip(self.items, rendered, strict=True):  # older ihsim's ids
            for old in olds:
                self.by_id.setdefault(old, dilemma)
        self.made: dict[str, tuple[Dilemma, str]] = {}

    def find(
        self, axes: dict[str, str], setting: int | None, dilemma_id: str | None
    ) -> tuple[Dilemma, dict[str, str]]:
        """The dilemma a sample answers and the axis values it is reported under."""
        if dilemma_id is not None:
            if dilemma_id not in self.by_id:
                raise Misplaced(
                    ("dilemma",), f"no dilemma {dilemma_id!r} in family {self.family.id}"
                )
            found = self.by_id[dilemma_id]
            return found, dict(found.axes)
        self._check_axes(axes)
        settings = len(self.family.settings)
        if setting is not None and not 0 <= setting < settings:
            raise Misplaced(
                ("setting",), f"family {self.family.id} has settings 0 to {settings - 1}"
            )
        candidates = [
            d
            for d in self.items
            if any(all(p.get(k) == v for k, v in axes.items()) for p in d.stands_for or [d.axes])
            and (setting is None or d.setting == setting)
        ]
        if not candidates:
            raise Misplaced(("axes",), f"no dilemma of {self.family.id} at {_point(axes)}")
        if len({self.scored[d.id] for d in candidates}) > 1:
            open_ = [a for a in sorted(self.family.axes) if a not in axes]
            if setting is None:
                open_.append("setting")
            deciding = self._deciding(candidates, open_) or open_
            how = []
            if set(deciding) - {"setting"}:
                how.append("the axes with --axes, --axes-from or the record's `axes`")
            if "setting" in deciding:
                how.append("the record's `setting`")
            raise Misplaced(
                ("setting",) if deciding == ["setting"] else ("axes",),
                f"family {self.family.id}'s evidence depends on {', '.join(deciding)}, which "
                f"the sample does not record (give {' and '.join(how)})",
            )
        shown = {a: axes.get(a, NOT_RECORDED) for a in sorted(self.family.axes)}
        return candidates[0], shown

    def placed(
        self, base: Dilemma, shown: dict[str, str], prompt: list[Message]
    ) -> tuple[Dilemma, str]:
        """The copy of `base` whose messages are the sample's own prompt, and its stored JSON:
        made once per distinct prompt, however many samples share it."""
        prompt_json = [m.model_dump(exclude_defaults=True) for m in prompt]
        key = json.dumps([base.id, shown, prompt_json], sort_keys=True)
        if key not in self.made:
            dilemma_id = hashlib.sha256(key.encode()).hexdigest()[:16]
            update = {"id": dilemma_id, "messages": prompt, "axes": shown}
            body = {**self.bodies[base.id], **update, "messages": prompt_json}
            self.made[key] = (base.model_copy(update=update), json.dumps(body))
        return self.made[key]

    def _check_axes(self, axes: dict[str, str]) -> None:
        for axis, value in axes.items():
            if axis not in self.family.axes:
                raise Misplaced(("axes", axis), f"family {self.family.id} does not vary {axis!r}")
            if value not in self.family.axes[axis]:
                known = "|".join(self.family.axes[axis])
                raise Misplaced(("axes", axis), f"no value {value!r} for axis {axis} ({known})")

    def _deciding(self, candidates: list[Dilemma], names: list[str]) -> list[str]:
        """The open axes (or the setting) whose values change what the candidates score."""
        deciding = []
        for name in names:
            scored: dict[object, set[str]] = defaultdict(set)
            for d in candidates:
                for point in d.stands_for or [d.axes]:
                    value = d.setting if name == "setting" else point.get(name)
                    scored[value].add(self.scored[d.id])
            if len({frozenset(v) for v in scored.values()}) > 1:
                deciding.append(name)
        return deciding


def _point(axes: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(axes.items())) or "any point"


def run_id_of(batch: Batch, catalogue: Catalogue, hierarchy: str) -> str:
    """The same source placed in the same family (to the letter: an edited family scores
    differently, so it is another import) under the same hierarchy is the same run."""
    # a family without issuer swaps hashes as it did before families could have them
    family = catalogue.family.model_dump_json(exclude=None if catalogue.family.swaps else {"swaps"})
    key = json.dumps([batch.sha256, family, hierarchy, *([batch.part] if batch.part else [])])
    return "import-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class Existing:
    """What a run already holds: its samples' keys, and the epochs taken per dilemma and model."""

    keys: set[str] = field(default_factory=set)
    epochs: Counter[tuple[str, str]] = field(default_factory=Counter)

    @classmethod
    def of(cls, store: Store | None, run_id: str) -> Existing:
        if store is None or not store.has_run(run_id):
            return cls()
        keys, epochs = store.source_keys(run_id)
        return cls(keys, Counter(epochs))


def place(
    batch: Batch, catalogue: Catalogue, placing: Placing, existing: Existing, run_id: str
) -> Account:
    """Every sample of the batch checked and placed, or set aside with its reason; a record
    that is not the format at all raises, located (a bad file, nothing written). What it
    places joins `existing`, as if stored: a later batch of the same run (the same file given
    twice) finds it already there."""
    account = Account(run_id)
    seen: dict[str, str] = {}
    epochs = existing.epochs
    for sample in batch.samples:
        account.read += 1
        key = sample.source.key
        if key in existing.keys:
            account.already += 1
            continue
        if key in seen:
            account.unplaced.append((_at(sample), f"repeats sample {key!r} of {seen[key]}"))
            continue
        seen[key] = _at(sample)
        record = _validated(sample, placing)
        try:
            if sample.unplaceable:
                raise Misplaced((), sample.unplaceable)
            account.placed.append(_placed(sample, record, catalogue, placing, epochs))
        except Misplaced as exc:
            field_ = f"{'.'.join(exc.loc)}: " if exc.loc else ""
            account.unplaced.append((_at(sample), f"{field_}{exc.message}"))
    existing.keys.update(p.transcript.source.key for p in account.placed if p.transcript.source)
    return account


def _at(sample: Sample) -> str:
    return f"{sample.where}:{sample.line}" if sample.line is not None else sample.where


def _validated(sample: Sample, placing: Placing) -> ImportedTranscript:
    raw = {("schema_" if k == "schema" else k): v for k, v in sample.record.items()}
    if placing.model and not raw.get("model"):
        raw["model"] = placing.model
    try:
        record = ImportedTranscript.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = format_field([p for p in first["loc"] if isinstance(p, str | int)])
        raise DilemmaFileError(
            message_of(first), file=sample.where, line=sample.line, loc=(loc,)
        ) from None
    if record.schema_ not in (None, SCHEMA):
        raise DilemmaFileError(
            f"unknown schema {record.schema_!r} (want {SCHEMA!r})",
            file=sample.where,
            line=sample.line,
            loc=("schema",),
        )
    return record


def _axes(
    sample: Sample, record: ImportedTranscript, placing: Placing, family: FamilySpec
) -> dict[str, str]:
    """The sample's axis values: the file's (`--axes`), then what its source implies where the
    family varies that axis, then its metadata's (`--axes-from`), then the record's own."""
    axes = dict(placing.axes)
    axes.update({k: v for k, v in sample.axes.items() if k in family.axes})
    if placing.axes_from is not None:
        given = sample.source.metadata.get(placing.axes_from)
        if not isinstance(given, dict):
            raise Misplaced(
                ("metadata",), f"no object {placing.axes_from!r} in the sample's metadata"
            )
        axes.update({str(k): str(v) for k, v in given.items()})
    axes.update(record.axes or {})
    return axes


def _placed(
    sample: Sample,
    record: ImportedTranscript,
    catalogue: Catalogue,
    placing: Placing,
    epochs: Counter[tuple[str, str]],
) -> Placed:
    messages = [_message(m) for m in record.messages]
    start = record.prompt_length
    if start is None:
        start = next((i for i, m in enumerate(messages) if m.role == "assistant"), len(messages))
    if not messages or start == 0:
        raise Misplaced(("messages",), "no prompt before the model's part")
    if not 0 < start <= len(messages):
        raise Misplaced(("prompt_length",), f"must be between 1 and {len(messages)}")
    prompt, added = messages[:start], messages[start:]
    if sample.error is None and not any(m.role == "assistant" for m in added):
        raise Misplaced(("messages",), "no assistant message after the prompt")
    axes = _axes(sample, record, placing, catalogue.family)
    base, shown = catalogue.find(axes, record.setting, record.dilemma)
    dilemma, body = catalogue.placed(base, shown, prompt)
    dilemma_id = dilemma.id
    slot = (dilemma_id, record.model)
    epoch, epochs[slot] = epochs[slot], epochs[slot] + 1
    answer = record.final_answer
    if answer is None:
        answer = next((m.content for m in reversed(added) if m.role == "assistant"), "")
    transcript = Transcript(
        run_id="",
        dilemma_id=dilemma_id,
        model=record.model,
        epoch=epoch,
        status="error" if sample.error is not None else "ok",
        error=sample.error,
        messages=added,
        final_answer=answer if sample.error is None else "",
        reasoning=record.reasoning,
        stop_reason=record.stop_reason if sample.error is None else None,
        source=sample.source,
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


def import_batch(store: Store, batch: Batch, account: Account, family: str, hierarchy: str) -> None:
    """The batch's placed transcripts written in one transaction: the run is in the store whole
    or not at all, and holds exactly what the account says was imported."""
    placed = account.placed
    if not placed:
        return
    with store.transaction():
        if not store.has_run(account.run_id):
            source = f"{batch.path}:{batch.part}" if batch.part else str(batch.path)
            info = RunInfo(
                id=account.run_id,
                created_at=now(),
                source=source,
                models=[],
                epochs=0,
                params=ImportedSettings(
                    imported=batch.kind, family=family, hierarchy=hierarchy
                ).params(),
                dilemma_count=0,
            )
            store.add_run(info, batch.sha256)
        before = sum(store.transcript_counts(account.run_id).values())
        unique = {p.dilemma.id: p for p in placed}
        store.add_dilemmas(account.run_id, _pairs(unique.values()), appended=True)
        store.insert_transcripts(
            p.transcript.model_copy(update={"run_id": account.run_id}) for p in placed
        )
        added = sum(store.transcript_counts(account.run_id).values()) - before
        if added != len(placed):  # what the account says is imported is what is stored
            raise StoreError(
                f"{account.run_id}: {len(placed)} transcripts to import, {added} stored;"
                " this file's import was rolled back",
                file=str(store.path),
            )
        store.recount_import(account.run_id)


def _pairs(placed: Iterable[Placed]) -> Iterator[tuple[Dilemma, str]]:
    return ((p.dilemma, p.body) for p in placed)
