"""What `ihsim import` reads: each path as one or more batches of samples, one batch a run.

A batch is the samples of one source that belong in one run: a JSONL file, an Inspect log, or
one model's part of an agentic-misalignment results folder. Each sample carries its key in the
source (the source's own sample id and epoch, or its line), so N samples that share a prompt
stay N transcripts, and importing the source again finds them already there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conflicts.errors import DilemmaFileError
from conflicts.run.plan import file_sha256
from conflicts.scenarios.dilemma import jsonl_lines
from conflicts.store.transcript import Source


@dataclass(frozen=True)
class Sample:
    """One sample as the source gave it: where it is (for messages), the transcript record
    (`ImportedTranscript`'s fields), its source key and scores, the source's own error when the
    sample failed there, the axis values its source implies (used where the family varies
    them), and why the reader already knows it cannot be placed."""

    where: str
    line: int | None
    record: dict[str, Any]
    source: Source
    error: str | None = None
    axes: dict[str, str] = field(default_factory=dict)
    unplaceable: str | None = None


@dataclass(frozen=True)
class Batch:
    """The samples that make one run, with what identifies their source."""

    path: Path
    kind: str  # jsonl, eval, json, agentic-misalignment
    sha256: str
    samples: list[Sample]
    part: str = ""  # within a source of several runs: the model's folder


def batches(path: Path) -> list[Batch]:
    """Every batch at `path`, read whole and checked; a bad file raises, located."""
    if not path.exists():
        raise DilemmaFileError("no such file or folder", file=str(path))
    if path.is_dir():
        from conflicts.run.harness_results import is_results_folder, results_batches

        if not is_results_folder(path):
            raise DilemmaFileError(
                "not a source ihsim reads: a folder must be an agentic-misalignment results folder"
                " (prompts/ and models/)",
                file=str(path),
            )
        return results_batches(path)
    if path.suffix in (".eval", ".json"):
        from conflicts.run.inspect_logs import log_samples

        samples = list(log_samples(path))
        kind = path.suffix.lstrip(".")
    else:
        samples, kind = list(jsonl_samples(path)), "jsonl"
    if not samples:
        raise DilemmaFileError("no transcripts in file", file=str(path))
    return [Batch(path, kind, file_sha256(path), samples)]


def jsonl_samples(path: Path) -> Iterator[Sample]:
    """ihsim.transcript/1 lines: each line one sample, keyed by its `source_id` (and `epoch`)
    when it gives one, else by its line, so no two lines are ever merged."""
    file = str(path)
    for number, line in jsonl_lines(path):
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DilemmaFileError(f"not JSON: {exc.msg}", file=file, line=number) from None
        if not isinstance(raw, dict):
            raise DilemmaFileError("not a transcript record", file=file, line=number)
        yield _jsonl_sample(file, number, raw)


def _jsonl_sample(file: str, number: int, raw: dict[str, Any]) -> Sample:
    for name, kind, wanted in (("scores", dict, "an object"), ("metadata", dict, "an object"),
                               ("error", str, "a string")):  # fmt: skip
        if raw.get(name) is not None and not isinstance(raw[name], kind):
            raise DilemmaFileError(f"must be {wanted}", file=file, line=number, loc=(name,))
    source_id, epoch = raw.get("source_id"), raw.get("epoch")
    key = f"line {number}"
    if isinstance(source_id, str | int) and not isinstance(source_id, bool):
        key = f"{source_id}" if epoch is None else f"{source_id}#{epoch}"
    scores, metadata = raw.get("scores"), raw.get("metadata")
    source = Source(
        key=key,
        id=str(source_id) if source_id is not None else None,
        epoch=epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
        scores=scores or {},
        metadata=metadata or {},
    )
    error = raw.pop("error", None)
    for kept in ("scores", "metadata"):  # the source's, not the transcript record's
        raw.pop(kept, None)
    return Sample(file, number, raw, source, error or None)
