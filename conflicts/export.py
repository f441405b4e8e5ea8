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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from conflicts.atomic import atomic_file
from conflicts.errors import ArgumentError

FORMATS = ("jsonl", "csv", "parquet")
BATCH = 5000
AXIS_SQL = "json_extract(d.axes, ?)"


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
            Column(f"axis_{axis}" if axis in taken else axis, "string", AXIS_SQL, axis)
            for axis in axes
        ),
    ]


def _batches(
    db: sqlite3.Connection,
    runs: Sequence[str],
    verdicts: bool,
    classifier: str | None,
    columns: list[Column],
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows in transcript order, `BATCH` at a time, axis values read from the dilemma."""
    paths = [f'$."{c.axis}"' for c in columns if c.axis is not None]
    selected = ", ".join(c.sql for c in columns)
    marks = ", ".join("?" * len(runs))
    if verdicts:
        source = (
            "verdicts v JOIN transcripts t ON t.id = v.transcript_id"
            " JOIN dilemmas d ON d.id = t.dilemma_id"
        )
        order = "t.id, v.principal, v.classifier, v.classifier_version"
    else:
        source = "transcripts t JOIN dilemmas d ON d.id = t.dilemma_id"
        order = "t.id"
    where = f"t.run_id IN ({marks})"
    arguments: list[Any] = [*paths, *runs]
    if verdicts and classifier is not None:
        where += " AND v.classifier = ?"
        arguments.append(classifier)
    cursor = db.execute(
        f"SELECT {selected} FROM {source} WHERE {where} ORDER BY {order}", arguments
    )
    while batch := cursor.fetchmany(BATCH):
        yield batch


def _value(column: Column, raw: Any, nested: bool) -> Any:
    """A stored value as the row carries it: JSON text parsed where the format nests."""
    if raw is None:
        return None
    if column.kind == "bool":
        return bool(raw) if raw >= 0 else None  # tested is -1 where nobody checked
    if column.kind == "json" and nested:
        return orjson.loads(raw)
    return raw


def _text(
    batches: Iterator[list[tuple[Any, ...]]], columns: list[Column], fmt: str, out: IO[str]
) -> int:
    names = [c.name for c in columns]
    count = 0
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(names)
    for batch in batches:
        for row in batch:
            if writer is not None:
                writer.writerow([_value(c, v, False) for c, v in zip(columns, row, strict=True)])
            else:
                record = {c.name: _value(c, v, True) for c, v in zip(columns, row, strict=True)}
                out.write(orjson.dumps(record).decode() + "\n")
        count += len(batch)
    return count


def _parquet(batches: Iterator[list[tuple[Any, ...]]], columns: list[Column], output: Path) -> int:
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
    count = 0
    with atomic_file(output, binary=True) as handle, pq.ParquetWriter(handle, schema) as writer:
        for batch in batches:
            values = [[_value(c, row[i], False) for row in batch] for i, c in enumerate(columns)]
            writer.write_table(pa.Table.from_arrays(values, schema=schema))
            count += len(batch)
    return count
