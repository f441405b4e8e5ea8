"""`ihsim export`: the store's rows, whole and alike in every format, or no file at all."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conflicts.formats import export as export_module
from tests.conftest import Invoke
from tests.test_cli import MODELS
from tests.test_compare import classified_run


def DB() -> Path:
    return Path(os.environ["IHSIM_DB"])


@pytest.fixture
def run(ihsim: Invoke) -> str:
    return classified_run(ihsim, *MODELS)


def read(path: Path) -> list[dict[str, Any]]:
    """An export's rows as JSON values: CSV's text and Parquet's types brought to JSONL's."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if path.suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
    else:
        with path.open(newline="") as handle:
            rows = [{k: _typed(k, v) for k, v in row.items()} for row in csv.DictReader(handle)]
    return [{k: json.loads(v) if k in ("messages", "evidence") else v for k, v in row.items()}
            for row in rows]  # fmt: skip


def _typed(column: str, text: str) -> Any:
    if text == "":
        return None
    if column in ("transcript_id", "epoch", "input_tokens", "output_tokens"):
        return int(text)
    if column in ("cost_usd", "latency_ms", "confidence", "agreement"):
        return float(text)
    if column in ("tested", "flagged"):
        return text == "True"
    return text


def written(folder: Path) -> list[Path]:
    """Every file in `folder`, hidden partial files included."""
    return list(folder.iterdir()) if folder.exists() else []


def stored(sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(DB()) as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize("verdicts", [False, True], ids=["transcripts", "verdicts"])
def test_every_format_holds_the_same_rows_as_the_store(
    ihsim: Invoke, run: str, tmp_path: Path, verdicts: bool
) -> None:
    flag = ["--verdicts"] if verdicts else []
    exported = {}
    for fmt in ("jsonl", "csv", "parquet"):
        path = tmp_path / f"out.{fmt}"
        result = ihsim("export", run, *flag, "-o", str(path))
        assert result.exit_code == 0, result.output
        exported[fmt] = read(path)
    assert exported["jsonl"] == exported["csv"] == exported["parquet"]
    rows = exported["jsonl"]
    if verdicts:
        expected = stored(
            "SELECT v.transcript_id, v.principal, v.label, v.evidence, d.axes FROM verdicts v"
            " JOIN transcripts t ON t.id = v.transcript_id JOIN dilemmas d ON d.id = t.dilemma_id"
        )
        got = [(r["transcript_id"], r["principal"], r["label"], r["evidence"]) for r in rows]
        assert sorted(got) == sorted((t, p, lab, json.loads(e)) for t, p, lab, e, _ in expected)
    else:
        expected = stored(
            "SELECT t.id, t.final_answer, t.messages, d.axes FROM transcripts t"
            " JOIN dilemmas d ON d.id = t.dilemma_id"
        )
        got = [(r["transcript_id"], r["final_answer"], r["messages"]) for r in rows]
        assert sorted(got) == sorted((i, a, json.loads(m)) for i, a, m, _ in expected)
    axes = {axis for *_, body in expected for axis in json.loads(body)}
    assert axes == {"cue_strength", "framing"}
    by_id = {row[0]: json.loads(row[-1]) for row in expected}
    for row in rows:
        key = (row["transcript_id"], row["principal"]) if verdicts else row["transcript_id"]
        assert {axis: row[axis] for axis in axes} == by_id[key[0] if verdicts else key]
    assert {r["run_id"] for r in rows} == {run}


def test_jsonl_to_stdout_one_classifier_and_several_runs(ihsim: Invoke, run: str) -> None:
    second = ihsim("run", "d.jsonl", "-m", "sim/literal", "-q").stdout.strip()
    ihsim("classify", second)
    shown = ihsim("export", run, second, "--verdicts", "--classifier", "evidence")
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(rows) == stored("SELECT COUNT(*) FROM verdicts")[0][0]
    assert {r["run_id"] for r in rows} == {run, second}
    assert {r["classifier"] for r in rows} == {"evidence"}
    none = ihsim("export", run, "--verdicts", "--classifier", "judge")
    assert none.exit_code == 0 and none.stdout == ""
    latest = ihsim("export")  # the latest run when none is named
    assert {json.loads(line)["run_id"] for line in latest.stdout.splitlines()} == {second}


def test_bad_requests_are_one_line_errors(ihsim: Invoke, run: str, tmp_path: Path) -> None:
    cases = {
        ("-o", str(tmp_path / "out.xlsx")): "cannot tell the format from 'out.xlsx'",
        ("-f", "parquet"): "Parquet is binary: give -o FILE",
        ("--classifier", "evidence"): "--classifier picks verdicts: add --verdicts",
        ("run-nope",): "no run 'run-nope'",
    }
    for arguments, message in cases.items():
        result = ihsim("export", *arguments)
        assert result.exit_code == 2 and message in result.stderr, (arguments, result.output)
        assert len(result.stderr.splitlines()) == 1
    assert list(tmp_path.glob("out*")) == []


def test_parquet_without_pyarrow_says_how_to_get_it(
    ihsim: Invoke, run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = ihsim("export", "-o", str(tmp_path / "exports" / "t.parquet"))
    assert result.exit_code == 2
    assert "pip install 'ihsim[parquet]'" in result.stderr
    assert written(tmp_path / "exports") == []


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_an_export_stopped_halfway_leaves_no_file(
    ihsim: Invoke, run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr(export_module, "BATCH", 10)
    real, calls = export_module._rows, []

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) > 20:  # some batches in
            raise RuntimeError("stopped")
        return real(*args)

    monkeypatch.setattr(export_module, "_rows", failing)
    with pytest.raises(RuntimeError, match="stopped"):
        ihsim("export", run, "--verdicts", "-o", str(tmp_path / "exports" / f"v.{fmt}"))
    assert len(calls) > 20 and written(tmp_path / "exports") == []
