"""Reading Inspect AI logs (`.eval` archives and `.json` files) as transcript records.

An `.eval` file is a zip archive with one JSON file per sample under `samples/`; Inspect writes
its entries zstd-compressed (method 93), which Python's zipfile cannot read before 3.14, so those
entries are read raw and decompressed with `zstandard`, the library Inspect itself uses.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conflicts.errors import DilemmaFileError
from conflicts.run.import_sources import Sample
from conflicts.store.run_defaults import MAX_EPOCHS
from conflicts.store.transcript import Source
from hierarchy.errors import format_field, message_of

ZSTD = 93
LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # the zip local file header, 30 bytes


MAX_MEMBER = 128 << 20  # bytes a log's JSON may decompress to: a sample is rarely a few MB


class _Shape(BaseModel):
    """The part of Inspect's log schema ihsim reads; other fields, and fields of other releases,
    are let through untouched."""

    model_config = ConfigDict(extra="ignore")


class InspectCall(_Shape):
    id: str = ""
    function: str = ""
    arguments: dict[str, Any] | None = None


class InspectMessage(_Shape):
    role: str
    content: str | list[Any] | None = None
    source: str | None = None
    tool_calls: list[InspectCall] | None = None
    tool_call_id: str | None = None
    function: str | None = None


class InspectChoice(_Shape):
    stop_reason: str | None = None


class InspectOutput(_Shape):
    completion: str | None = None
    choices: list[InspectChoice] | None = None


class InspectScore(_Shape):
    value: Any = None


class InspectError(_Shape):
    message: str = ""


class InspectSample(_Shape):
    id: str | int | None = None
    epoch: int | None = Field(None, ge=1, le=MAX_EPOCHS)  # Inspect counts epochs from 1
    input: str | list[Any] | None = None
    messages: list[InspectMessage] | None = None
    metadata: dict[str, Any] | None = None
    output: InspectOutput | None = None
    scores: dict[str, InspectScore] | None = None
    # releases before 0.3.47 or so wrote `score` (one scorer) instead of `scores`
    score: InspectScore | None = None
    error: InspectError | None = None


class InspectEval(_Shape):
    model: str = ""


class InspectLog(_Shape):
    eval: InspectEval = InspectEval()
    samples: list[Any] | None = None


def log_samples(path: Path) -> Iterator[Sample]:
    """Every sample of an Inspect log as an import sample, keyed by Inspect's own sample id and
    epoch (unique within a log, whatever the prompts)."""
    for index, (where, model, sample) in enumerate(samples(path)):
        epoch = sample.epoch or 1
        own = sample.id if sample.id is not None else f"#{index}"
        source = Source(
            key=f"{own}#{epoch}",
            id=str(own),
            epoch=epoch,
            scores=scores(sample),
            metadata=sample.metadata or {},
        )
        error = (sample.error.message or "the sample failed") if sample.error else None
        yield Sample(f"{path}:{where}", None, record(model, sample), source, error)


def scores(sample: InspectSample) -> dict[str, Any]:
    """Each scorer's value, by the scorer's name, as the log recorded it."""
    found = {name: score.value for name, score in (sample.scores or {}).items()}
    if not found and sample.score is not None:
        found["score"] = sample.score.value
    return found


def samples(path: Path) -> Iterator[tuple[str, str, InspectSample]]:
    """(where, the eval's model, sample) for every sample of an Inspect log."""
    if path.suffix == ".eval":
        yield from _eval_samples(path)
        return
    if path.stat().st_size > MAX_MEMBER:
        raise DilemmaFileError(f"larger than {MAX_MEMBER >> 20} MB", file=str(path))
    log = _shaped(InspectLog, _json(path.read_bytes(), str(path)), str(path))
    for index, sample in enumerate(log.samples or []):
        where = f"samples[{index}]"
        yield where, log.eval.model, _shaped(InspectSample, sample, f"{path}:{where}")


def _eval_samples(path: Path) -> Iterator[tuple[str, str, InspectSample]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DilemmaFileError(
            f"not an Inspect .eval archive (not a zip file: {exc})", file=str(path)
        ) from None
    with archive, path.open("rb") as raw:
        names = archive.namelist()
        if "header.json" not in names:
            raise DilemmaFileError("not an Inspect .eval archive (no header.json)", file=str(path))
        where = f"{path}:header.json"
        header = _shaped(InspectLog, _json(_read(archive, raw, "header.json", where), where), where)
        for name in sorted(n for n in names if n.startswith("samples/") and n.endswith(".json")):
            where = f"{path}:{name}"
            data = _json(_read(archive, raw, name, where), where)
            yield name, header.eval.model, _shaped(InspectSample, data, where)


def _read(archive: zipfile.ZipFile, raw: Any, name: str, where: str) -> bytes:
    """One member, decompressed to at most MAX_MEMBER bytes whatever its header claims (a few
    KB of zeros compress a thousandfold); a damaged member is one located error."""
    info = archive.getinfo(name)
    if info.file_size > MAX_MEMBER:
        raise DilemmaFileError(
            f"{info.file_size:,} bytes uncompressed; a member may hold {MAX_MEMBER:,}", file=where
        )
    try:
        if info.compress_type != ZSTD:
            with archive.open(name) as member:
                data = member.read(MAX_MEMBER + 1)
        else:
            data = _zstd(raw, info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error) as exc:
        raise DilemmaFileError(f"damaged archive member: {exc}", file=where) from None
    if len(data) > MAX_MEMBER:
        raise DilemmaFileError(f"decompresses past {MAX_MEMBER:,} bytes", file=where)
    return data


def _zstd(raw: Any, info: zipfile.ZipInfo) -> bytes:
    import zstandard

    raw.seek(info.header_offset)
    fields = LOCAL_HEADER.unpack(raw.read(LOCAL_HEADER.size))
    raw.seek(fields[-2] + fields[-1], 1)  # skip the file name and extra field
    compressed = raw.read(info.compress_size)
    try:
        return bytes(
            zstandard.ZstdDecompressor().decompress(compressed, max_output_size=info.file_size)
        )
    except zstandard.ZstdError as exc:
        raise ValueError(str(exc)) from None


S = TypeVar("S", bound=_Shape)


def _shaped(model: type[S], data: dict[str, Any], where: str) -> S:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = format_field([p for p in first["loc"] if isinstance(p, str | int)])
        raise DilemmaFileError(
            f"not an Inspect log: {message_of(first)}", file=where, loc=(field,) if field else ()
        ) from None


def _json(data: bytes, where: str) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DilemmaFileError(f"not JSON: {exc}", file=where) from None
    if not isinstance(parsed, dict):
        raise DilemmaFileError("not an Inspect log (expected a JSON object)", file=where)
    return parsed


# Inspect's stop reasons for an answer the model did not end itself, as ihsim's
CUTS = {"max_tokens": "max_tokens", "model_length": "max_tokens", "content_filter": "filtered"}


def record(model: str, sample: InspectSample) -> dict[str, Any]:
    """An Inspect sample as an ihsim transcript record (see conflicts/run/transcript_import.py)."""
    given = sample.messages or []
    messages = [_message(m) for m in given]
    metadata = sample.metadata or {}
    generated = [i for i, m in enumerate(given) if m.role == "assistant" and m.source == "generate"]
    if generated:
        prompt_length: int | None = generated[0]
    elif isinstance(sample.input, list):
        prompt_length = len(sample.input)
    else:
        prompt_length = None
    reasoning = [
        str(block.get("reasoning", ""))
        for m in given
        if m.role == "assistant" and isinstance(m.content, list)
        for block in m.content
        if isinstance(block, dict) and block.get("type") == "reasoning"
    ]
    found: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "prompt_length": prompt_length,
        "reasoning": "\n\n".join(r for r in reasoning if r) or None,
    }
    for key in ("dilemma", "axes", "setting"):  # a log of ihsim's own dilemmas says so
        value = metadata.get(f"ihsim_{key}")
        if value is not None:
            found[key] = value
    output = sample.output or InspectOutput()
    if output.completion:
        found["final_answer"] = output.completion
    choices = output.choices or [InspectChoice()]
    found["stop_reason"] = CUTS.get(choices[0].stop_reason or "")
    return {k: v for k, v in found.items() if v is not None}


def _message(message: InspectMessage) -> dict[str, Any]:
    found: dict[str, Any] = {"role": message.role, "content": _text(message.content)}
    if message.tool_calls:
        found["tool_calls"] = [
            {"id": c.id, "name": c.function, "arguments": c.arguments or {}}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        found["tool_call_id"] = message.tool_call_id
        found["name"] = message.function
    return found


def _text(content: Any) -> str:
    """Message content: a string, or Inspect's content blocks, of which the text is kept."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""
