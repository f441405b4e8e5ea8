"""`ihsim export`: the store's own rows, for analysis the report does not do: one row per
transcript or one per verdict, with the dilemma's family and axes beside it, as JSONL, CSV or
Parquet.

Rows stream from SQLite in batches, never a whole run in memory, into a file that appears whole
once the last row is in (an export stopped halfway leaves nothing). Nested values (a
transcript's messages, a verdict's evidence) stay nested in JSONL and are JSON text in CSV and
Parquet, so every format has the same flat columns.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

import orjson

from conflicts.atomic import atomic_file
from conflicts.errors import ArgumentError
from conflicts.store.verdicts import EXPORT_CLASSIFIER, EXPORT_JOIN, EXPORT_ORDER

FORMATS = ("jsonl", "csv", "parquet")
BATCH = 5000


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # string, int, float, bool, json: how Parquet types it and CSV and JSONL write it
    sql: str
    axis: str | None = None  # the axis whose value it holds, read from the dilemma's axes


# What places a row: whose transcript, of which dilemma, in which run.
PLACE = (
    Column("run_id", "string", "t.run_id"),
    Column("transcript_id", "int", "t.id"),
    Column("dilemma_id", "string", "t.dilemma_id"),
    Column("family", "string", "d.family"),
    Column("model", "string", "t.model"),
    Column("epoch", "int", "t.epoch"),
    # an imported transcript's sample in its source: key (id and epoch, or line), the source's
    # own id and epoch, and its scores, so verdicts join back to the source's samples
    Column("source_key", "string", "t.source_key"),
    Column("source_id", "string", "json_extract(t.source, '$.id')"),
    Column("source_epoch", "int", "json_extract(t.source, '$.epoch')"),
    Column("source_scores", "json", "json_extract(t.source, '$.scores')"),
)

TRANSCRIPT_COLUMNS = (
    *PLACE,
    Column("hierarchy", "string", "d.hierarchy"),
    Column("status", "string", "t.status"),
    Column("stop_reason", "string", "t.stop_reason"),
    Column("final_answer", "string", "t.final_answer"),
    Column("reasoning", "string", "t.reasoning"),
    Column("messages", "json", "t.messages"),
    Column("input_tokens", "int", "t.input_tokens"),
    Column("output_tokens", "int", "t.output_tokens"),
    Column("cost_usd", "float", "t.cost_usd"),
    Column("latency_ms", "float", "t.latency_ms"),
    Column("error", "string", "t.error"),
    Column("created_at", "string", "t.created_at"),
)

VERDICT_COLUMNS = (
    *PLACE,
    Column("principal", "string", "v.principal"),
    Column("classifier", "string", "v.classifier"),
    Column("classifier_version", "string", "v.classifier_version"),
    Column("label", "string", "v.label"),
    Column("confidence", "float", "v.confidence"),
    Column("tested", "bool", "v.tested"),
    Column("judge", "string", "v.judge"),
    Column("agreement", "float", "v.agreement"),
    Column("flagged", "bool", "v.flagged"),
    Column("evidence", "json", "v.evidence"),
    Column("created_at", "string", "v.created_at"),
)


def export_format(output: Path | None, given: str | None) -> str:
    """The format asked for, or the one the output's suffix names; JSONL to a terminal."""
    if given is not None:
        return given
    if output is None:
        return "jsonl"
    suffix = output.suffix.lstrip(".").lower()
    if suffix not in FORMATS:
        raise ArgumentError(
            f"cannot tell the format from {output.name!r}: give -f {'|'.join(FORMATS)}",
            loc=("format",),
        )
    return suffix


def export(
    db: sqlite3.Connection,
    runs: Sequence[str],
    verdicts: bool,
    fmt: str,
    output: Path | None,
    classifier: str | None = None,
    stdout: IO[str] | None = None,
) -> int:
    """Write the rows of `runs` (verdicts, or transcripts) to `output` (or `stdout`); the count."""
    columns = _columns(db, runs, verdicts)
    batches = _batches(db, runs, verdicts, classifier, columns)
    if fmt == "parquet":
        if output is None:
            raise ArgumentError("Parquet is binary: give -o FILE", loc=("output",))
        return _parquet(batches, columns, output)
    if output is None:
        assert stdout is not None
        return _text(batches, columns, fmt, stdout)
    with atomic_file(output) as handle:
        return _text(batches, columns, fmt, handle)


def _columns(db: sqlite3.Connection, runs: Sequence[str], verdicts: bool) -> list[Column]:
    """The fixed columns, then one per axis the runs' dilemmas vary on, by name."""
    marks = ", ".join("?" * len(runs))
    axes = [
        row[0]
        for row in db.execute(
            f"SELECT DISTINCT j.key FROM run_dilemmas r JOIN dilemmas d ON d.id = r.dilemma_id,"
            f" json_each(d.axes) j WHERE r.run_id IN ({marks}) ORDER BY 1",
            runs,
        )
    ]
    fixed = VERDICT_COLUMNS if verdicts else TRANSCRIPT_COLUMNS
    taken = {c.name for c in fixed}
    return [
        *fixed,
        *(
            Column(f"axis_{axis}" if axis in taken else axis, "string", "d.axes", axis)
            for axis in axes
        ),
    ]


def _batches(
    db: sqlite3.Connection,
    runs: Sequence[str],
    verdicts: bool,
    classifier: str | None,
    columns: list[Column],
) -> Iterator[list[list[Any]]]:
    """The rows in transcript order, `BATCH` at a time. A dilemma's axes come as its JSON text,
    read once per distinct text: a million rows share a few dozen."""
    axes = [c.axis for c in columns if c.axis is not None]
    selected = ", ".join([c.sql for c in columns if c.axis is None] + ["d.axes"])

    @cache
    def values(text: str) -> list[Any]:
        found = orjson.loads(text)
        return [found.get(axis) for axis in axes]

    marks = ", ".join("?" * len(runs))
    # Transcripts in rowid order, each one's verdicts by primary key: rows come out in the order
    # asked for, with no sort of the whole export (CROSS JOIN fixes the nesting).
    if verdicts:
        source = f"{EXPORT_JOIN} JOIN dilemmas d ON d.id = t.dilemma_id"
        order = EXPORT_ORDER
    else:
        source = "transcripts t NOT INDEXED JOIN dilemmas d ON d.id = t.dilemma_id"
        order = "t.id"
    where = f"t.run_id IN ({marks})"
    arguments: list[Any] = list(runs)
    if verdicts and classifier is not None:
        where += f" AND {EXPORT_CLASSIFIER}"
        arguments.append(classifier)
    cursor = db.execute(
        f"SELECT {selected} FROM {source} WHERE {where} ORDER BY {order}", arguments
    )
    while batch := cursor.fetchmany(BATCH):
        yield [[*row[:-1], *values(row[-1])] for row in batch]


def _flag(raw: int | None) -> bool | None:
    return None if raw is None or raw < 0 else bool(raw)  # tested is -1 where nobody checked


def _parsed(raw: str | None) -> Any:
    return None if raw is None else orjson.loads(raw)


def _converters(columns: list[Column], nested: bool) -> list[tuple[int, Callable[[Any], Any]]]:
    """The columns whose stored value is not the row's (flags, and JSON where the format
    nests), each with what makes it so; every other value goes out as stored."""
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(columns):
        if column.kind == "bool":
            found.append((i, _flag))
        elif column.kind == "json" and nested:
            found.append((i, _parsed))
    return found


def _rows(
    rows: list[list[Any]], converters: list[tuple[int, Callable[[Any], Any]]]
) -> list[list[Any]]:
    for row in rows:
        for i, convert in converters:
            row[i] = convert(row[i])
    return rows


def _text(batches: Iterator[list[list[Any]]], columns: list[Column], fmt: str, out: IO[str]) -> int:
    names = [c.name for c in columns]
    converters = _converters(columns, nested=fmt == "jsonl")
    count = 0
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(names)
    for batch in batches:
        rows = _rows(batch, converters)
        if writer is not None:
            writer.writerows(rows)
        else:
            lines = (orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in rows)
            out.writelines(line + "\n" for line in lines)
        count += len(batch)
    return count


def _parquet(batches: Iterator[list[list[Any]]], columns: list[Column], output: Path) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ArgumentError(
            "Parquet needs pyarrow: pip install 'ihsim[parquet]'", loc=("format",)
        ) from None
    types = {"string": pa.string(), "json": pa.string(), "int": pa.int64()}
    types |= {"float": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([(c.name, types[c.kind]) for c in columns])
    converters = _converters(columns, nested=False)
    count = 0
    with atomic_file(output, binary=True) as handle, pq.ParquetWriter(handle, schema) as writer:
        for batch in batches:
            values = [list(column) for column in zip(*_rows(batch, converters), strict=True)]
            writer.write_table(pa.Table.from_arrays(values, schema=schema))
            count += len(batch)
    return count
