"""Reading Inspect AI logs (`.eval` archives and `.json` files) as transcript records.

An `.eval` file is a zip archive with one JSON file per sample under `samples/`; Inspect writes
its entries zstd-compressed (method 93), which Python's zipfile cannot read before 3.14, so those
entries are read raw and decompressed with `zstandard`, the library Inspect itself uses.
"""

from __future__ import annotations

import json
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conflicts.errors import DilemmaFileError

ZSTD = 93
LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # the zip local file header, 30 bytes


def samples(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, the eval's model, sample) for every sample of an Inspect log."""
    if path.suffix == ".eval":
        yield from _eval_samples(path)
        return
    log = _json(path.read_bytes(), str(path))
    model = str(log.get("eval", {}).get("model", ""))
    for index, sample in enumerate(log.get("samples") or []):
        yield f"samples[{index}]", model, sample


def _eval_samples(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DilemmaFileError(
            "not an Inspect .eval archive (not a zip file)", file=str(path)
        ) from None
    with archive, path.open("rb") as raw:
        names = archive.namelist()
        if "header.json" not in names:
            raise DilemmaFileError("not an Inspect .eval archive (no header.json)", file=str(path))
        header = _json(_read(archive, raw, "header.json"), f"{path}:header.json")
        model = str(header.get("eval", {}).get("model", ""))
        for name in sorted(n for n in names if n.startswith("samples/") and n.endswith(".json")):
            yield name, model, _json(_read(archive, raw, name), f"{path}:{name}")


def _read(archive: zipfile.ZipFile, raw: Any, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.compress_type != ZSTD:
        return archive.read(name)
    import zstandard

    raw.seek(info.header_offset)
    fields = LOCAL_HEADER.unpack(raw.read(LOCAL_HEADER.size))
    raw.seek(fields[-2] + fields[-1], 1)  # skip the file name and extra field
    compressed = raw.read(info.compress_size)
    return zstandard.ZstdDecompressor().decompress(compressed, max_output_size=info.file_size)


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


def record(model: str, sample: dict[str, Any]) -> dict[str, Any]:
    """An Inspect sample as an ihsim transcript record (see conflicts/run/transcript_import.py)."""
    messages = [_message(m) for m in sample.get("messages") or []]
    metadata = sample.get("metadata") or {}
    generated = [
        i
        for i, m in enumerate(sample.get("messages") or [])
        if m.get("role") == "assistant" and m.get("source") == "generate"
    ]
    inputs = sample.get("input")
    if generated:
        prompt_length = generated[0]
    elif isinstance(inputs, list):
        prompt_length = len(inputs)
    else:
        prompt_length = None
    reasoning = [
        block.get("reasoning", "")
        for m in sample.get("messages") or []
        if m.get("role") == "assistant" and isinstance(m.get("content"), list)
        for block in m["content"]
        if isinstance(block, dict) and block.get("type") == "reasoning"
    ]
    epoch = sample.get("epoch")
    found: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "prompt_length": prompt_length,
        "epoch": epoch - 1 if isinstance(epoch, int) and epoch >= 1 else None,
        "reasoning": "\n\n".join(r for r in reasoning if r) or None,
        "source_id": str(sample.get("id", "")),
    }
    for key in ("dilemma", "axes", "setting"):
        value = metadata.get(f"ihsim_{key}", metadata.get(key))
        if value is not None:
            found[key] = value
    output = sample.get("output") or {}
    completion = output.get("completion")
    if isinstance(completion, str) and completion:
        found["final_answer"] = completion
    choices = output.get("choices") or [{}]
    found["stop_reason"] = CUTS.get(choices[0].get("stop_reason"))
    return {k: v for k, v in found.items() if v is not None}


def _message(message: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"role": message.get("role"), "content": _text(message.get("content"))}
    calls = message.get("tool_calls") or []
    if calls:
        found["tool_calls"] = [
            {
                "id": c.get("id", ""),
                "name": c.get("function", ""),
                "arguments": c.get("arguments") or {},
            }
            for c in calls
        ]
    if message.get("role") == "tool":
        found["tool_call_id"] = message.get("tool_call_id")
        found["name"] = message.get("function")
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
