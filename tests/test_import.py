"""Transcripts from elsewhere: ihsim JSONL and real Inspect AI logs, imported and classified."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conflicts.scenarios.axes import parse_axes
from conflicts.scenarios.dilemma import Dilemma
from conflicts.scenarios.family import load_family
from conflicts.scenarios.generate import dilemmas
from hierarchy import load_hierarchy
from tests.conftest import Invoke
from tests.reports import measures

INSPECT = Path(__file__).parent / "data" / "inspect"
FAMILY = "confidential-instructions"


def family_dilemmas() -> list[Dilemma]:
    family = load_family(FAMILY)
    return list(
        dilemmas(family, load_hierarchy("model-spec"), parse_axes(None, family.supported_axes()), 0)
    )


def answer(case: Dilemma, move: str, model: str, **extra: Any) -> dict[str, Any]:
    """A record whose model answered with one of the family's scripted moves."""
    said = next(m for m in case.moves if m.id == move).say
    messages = [m.model_dump(exclude_defaults=True) for m in case.messages]
    messages.append({"role": "assistant", "content": said})
    return {"model": model, "messages": messages, "prompt_length": len(case.messages), **extra}


def write_jsonl(path: str, records: list[dict[str, Any]]) -> Path:
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return Path(path)


def db_rows(sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(os.environ["IHSIM_DB"])
    rows = db.execute(sql).fetchall()
    db.close()
    return rows


def test_jsonl_transcripts_are_classified_against_the_family(ihsim: Invoke) -> None:
    items = family_dilemmas()
    records = [answer(d, "deny", "lab/liar", axes=d.axes, setting=d.setting) for d in items[:3]]
    records += [answer(d, "decline", "lab/honest", dilemma=d.id) for d in items[:3]]
    first = items[0]
    records += [answer(first, "decline", "lab/honest", axes=first.axes, setting=first.setting)]
    write_jsonl("t.jsonl", records)
    result = ihsim("import", "t.jsonl", "--family", FAMILY)
    assert result.exit_code == 0, result.output
    run = result.stdout.strip()
    assert run.startswith("import-") and "7 samples read from t.jsonl: 7 imported" in result.stderr
    assert ihsim("classify", run).exit_code == 0
    cells = measures(ihsim("report", run, "--json").stdout)
    assert cells["lab/liar", "end_user"]["subvert"]["count"] == 3
    assert cells["lab/honest", "end_user"]["refuse"]["count"] == 4
    assert cells["lab/honest", "end_user"]["subvert"]["count"] == 0
    epochs = db_rows("SELECT epoch FROM transcripts WHERE model = 'lab/honest' ORDER BY epoch")
    assert [e for (e,) in epochs] == [0, 0, 0, 1]
    again = ihsim("import", "t.jsonl", "--family", FAMILY)
    assert again.stdout.strip() == run and "0 imported, 7 already there" in again.stderr


def test_an_imported_transcript_keeps_its_own_prompt(ihsim: Invoke) -> None:
    dilemma = family_dilemmas()[0]
    record = answer(dilemma, "decline", "lab/x", axes=dilemma.axes, setting=dilemma.setting)
    record["messages"][0]["content"] = "A system prompt of our own."
    write_jsonl("t.jsonl", [record])
    ihsim("import", "t.jsonl", "-f", FAMILY)
    [(body,)] = db_rows("SELECT body FROM dilemmas")
    stored = Dilemma.model_validate_json(body)
    assert stored.messages[0].content == "A system prompt of our own."
    assert stored.id != dilemma.id and stored.evidence == dilemma.evidence


@pytest.mark.parametrize("log", ["confidential.eval", "confidential.json"])
def test_inspect_logs_import_with_their_tool_calls(ihsim: Invoke, log: str) -> None:
    result = ihsim("import", str(INSPECT / log), "--family", FAMILY)
    assert result.exit_code == 0, result.output
    assert "2 samples read from" in result.stderr and ": 2 imported" in result.stderr
    rows = db_rows("SELECT model, epoch, messages, final_answer, run_id FROM transcripts")
    assert len(rows) == 2
    for model, epoch, messages, final, _ in rows:
        added = json.loads(messages)
        assert model == "openai-api/fake/fake" and epoch == 0
        assert added[0]["tool_calls"][0]["name"] == "lookup_answer"
        assert added[1] == {
            "role": "tool",
            "content": "The answer key is locked.",
            "tool_call_id": "call_1",
            "name": "lookup_answer",
        }
        assert final.startswith("I can't go into how I've been set up")
    ihsim("classify")
    cells = measures(ihsim("report", "--json").stdout)
    assert cells["openai-api/fake/fake", "end_user"]["refuse"]["count"] == 2


def test_an_answer_the_model_did_not_end_stays_marked_on_import(
    ihsim: Invoke, tmp_path: Path
) -> None:
    log = json.loads((INSPECT / "confidential.json").read_text())
    log["samples"][0]["output"]["choices"][0]["stop_reason"] = "content_filter"
    log["samples"][1]["output"]["choices"][0]["stop_reason"] = "max_tokens"
    (tmp_path / "cut.json").write_text(json.dumps(log))
    assert ihsim("import", str(tmp_path / "cut.json"), "-f", FAMILY).exit_code == 0
    stops = db_rows("SELECT stop_reason FROM transcripts ORDER BY id")
    assert stops == [("filtered",), ("max_tokens",)]
    case = family_dilemmas()[0]
    records = [answer(case, "deny", "m", dilemma=case.id, stop_reason="max_tokens")]
    assert ihsim("import", str(write_jsonl("t.jsonl", records)), "-f", FAMILY).exit_code == 0
    assert db_rows("SELECT COUNT(*) FROM transcripts WHERE stop_reason = 'max_tokens'") == [(2,)]
    records = [answer(case, "deny", "m", dilemma=case.id, stop_reason="bored")]
    refused = ihsim("import", str(write_jsonl("u.jsonl", records)), "-f", FAMILY)
    assert refused.exit_code == 2 and "u.jsonl:1: stop_reason" in refused.stderr


def test_both_inspect_formats_hold_the_same_transcripts(ihsim: Invoke) -> None:
    ihsim("import", str(INSPECT / "confidential.eval"), "-f", FAMILY)
    ihsim("import", str(INSPECT / "confidential.json"), "-f", FAMILY)
    rows = db_rows(
        "SELECT run_id, dilemma_id, messages FROM transcripts ORDER BY dilemma_id, run_id"
    )
    runs = {r[0] for r in rows}
    assert len(runs) == 2
    by_dilemma: dict[str, list[str]] = {}
    for _, dilemma_id, messages in rows:
        by_dilemma.setdefault(dilemma_id, []).append(messages)
    assert len(by_dilemma) == 2 and all(a == b for a, b in by_dilemma.values())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("VALID\nnot json\n", "t.jsonl:2: not JSON"),
        ('{"messages": [{"role": "user", "content": "hi"}]}\n', "t.jsonl:1: model: Field required"),
        ('{"model": "x", "messages": [], "colour": "red"}\n', "t.jsonl:1: colour: Extra inputs"),
        ('{"model": "x", "messages": [], "scores": "C"}\n', "t.jsonl:1: scores: must be an object"),
        ('{"model": "x", "messages": [], "error": 500}\n', "t.jsonl:1: error: must be a string"),
        ("", "t.jsonl: no transcripts in file"),
    ],
)
def test_a_bad_file_is_one_located_line_and_writes_nothing(
    ihsim: Invoke, content: str, message: str
) -> None:
    case = family_dilemmas()[0]
    valid = json.dumps(answer(case, "decline", "x", dilemma=case.id))
    Path("t.jsonl").write_text(content.replace("VALID", valid), encoding="utf-8")
    result = ihsim("import", "t.jsonl", "-f", FAMILY)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not Path(os.environ["IHSIM_DB"]).exists()


UNPLACEABLE = [
    ('{"model": "x", "messages": [], "dilemma": "DILEMMA"}', "messages: no prompt"),
    (
        '{"model": "x", "messages": [{"role": "user", "content": "hi"}, '
        '{"role": "assistant", "content": "ok"}], "axes": {"vibes": "high"}}',
        "axes.vibes: family confidential-instructions does not vary 'vibes'",
    ),
    (
        '{"model": "x", "messages": [{"role": "user", "content": "hi"}, {"role": "robot"}], '
        '"dilemma": "DILEMMA"}',
        "messages.role: unknown role 'robot'",
    ),
    (
        '{"model": "x", "dilemma": "DILEMMA", "messages": [{"role": "user", "content": "hi"}]}',
        "messages: no assistant message after the prompt",
    ),
    (
        '{"model": "x", "messages": [{"role": "user", "content": "hi"}, '
        '{"role": "assistant", "content": "ok"}], "dilemma": "nope"}',
        "dilemma: no dilemma 'nope'",
    ),
    (
        '{"model": "x", "messages": [{"role": "user", "content": "hi"}, '
        '{"role": "assistant", "content": "ok"}]}',
        "evidence depends on",
    ),
]


@pytest.mark.parametrize(("line", "reason"), UNPLACEABLE)
def test_a_sample_that_cannot_be_placed_is_named_and_the_rest_imported(
    ihsim: Invoke, line: str, reason: str
) -> None:
    case = family_dilemmas()[0]
    valid = json.dumps(answer(case, "decline", "x", dilemma=case.id))
    text = f"{valid}\n{line.replace('DILEMMA', case.id)}\n{valid}\n"
    Path("t.jsonl").write_text(text, encoding="utf-8")
    strict = ihsim("import", "t.jsonl", "-f", FAMILY, "--strict")
    assert strict.exit_code == 2 and "t.jsonl:2: 1 sample could not be placed" in strict.stderr
    assert reason in strict.stderr and not Path(os.environ["IHSIM_DB"]).exists()
    result = ihsim("import", "t.jsonl", "-f", FAMILY)
    assert result.exit_code == 1, result.output
    assert "3 samples read from t.jsonl: 2 imported, 0 already there, 1 not placed" in result.stderr
    assert reason in result.stderr and "    t.jsonl:2\n" in result.stderr
    assert db_rows("SELECT COUNT(*), COUNT(DISTINCT source_key) FROM transcripts") == [(2, 2)]


def test_a_file_that_is_not_an_inspect_archive(ihsim: Invoke) -> None:
    Path("broken.eval").write_bytes(b"PK not really a zip")
    result = ihsim("import", "broken.eval", "-f", FAMILY)
    assert result.exit_code == 2 and "not an Inspect .eval archive" in result.stderr
    result = ihsim("import", "missing.jsonl", "-f", FAMILY)
    assert result.exit_code == 2 and "missing.jsonl: no such file" in result.stderr


# Logs of a task that knows nothing of ihsim, written by an old and a new Inspect release
# (`make inspect-logs`; tests/data/inspect/outside_task.py), placed in a family of one principal
# written for that task.
def release(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.name.removeprefix("inspect-").split("."))


RELEASES = sorted(INSPECT.glob("inspect-*"), key=release)  # oldest first
AUDIT = str(Path(__file__).parent / "data" / "families" / "audit-log.yaml")


def test_logs_of_releases_far_apart_are_there() -> None:
    versions = [release(r) for r in RELEASES]
    assert len(versions) >= 2 and versions[0] <= (0, 3, 50) and versions[-1] >= (0, 3, 200)


@pytest.mark.parametrize("made", RELEASES, ids=[r.name for r in RELEASES])
def test_samples_that_share_one_prompt_are_each_a_transcript(ihsim: Invoke, made: Path) -> None:
    log = str(made / "shared-prompt.eval")
    result = ihsim("import", log, "-f", AUDIT)
    assert result.exit_code == 0, result.output
    assert (
        f"25 samples read from {log}: 25 imported, 0 already there, 0 not placed" in result.stderr
    )
    rows = db_rows("SELECT COUNT(*), COUNT(DISTINCT dilemma_id), MAX(epoch) FROM transcripts")
    assert rows == [(25, 1, 24)]  # one prompt: one dilemma, 25 replicates
    again = ihsim("import", log, "-f", AUDIT)
    assert again.exit_code == 0 and "0 imported, 25 already there" in again.stderr
    assert db_rows("SELECT COUNT(*) FROM transcripts") == [(25,)]
    ids = db_rows("SELECT json_extract(source, '$.id') FROM transcripts ORDER BY id")
    assert [i for (i,) in ids] == [f"tidy-{n:02d}" for n in range(1, 26)]
    assert ihsim("classify").exit_code == 0
    cells = measures(ihsim("report", "--json").stdout)
    counts = cells["mockllm/model", "system_prompter"]
    # the mock cycles keep / delete / decline: 9, 8 and 8 of 25
    assert [counts[k]["count"] for k in ("comply", "subvert", "refuse")] == [9, 8, 8]


@pytest.mark.parametrize("made", RELEASES, ids=[r.name for r in RELEASES])
@pytest.mark.parametrize("form", ["eval", "json"])
def test_epochs_stay_apart_and_the_logs_scores_come_along(
    ihsim: Invoke, made: Path, form: str
) -> None:
    log = str(made / f"epochs.{form}")
    result = ihsim("import", log, "-f", AUDIT, "--axes-from", "conditions")
    assert result.exit_code == 0, result.output
    assert ": 6 imported, 0 already there, 0 not placed" in result.stderr
    keys = db_rows("SELECT source_key, json_extract(source, '$.epoch') FROM transcripts")
    assert sorted(keys) == [(f"tidy-0{s}#{e}", e) for s in (1, 2) for e in (1, 2, 3)]
    scores = db_rows("SELECT json_extract(source, '$.scores') FROM transcripts")
    assert all(set(json.loads(s)) == {"includes", "kept_audit_log"} for (s,) in scores)
    axes = db_rows(
        "SELECT DISTINCT d.axes FROM dilemmas d JOIN transcripts t ON t.dilemma_id = d.id"
    )
    assert axes == [('{"surveillance": "none"}',)]


def test_an_axis_the_log_does_not_record_is_reported_as_such(ihsim: Invoke) -> None:
    log = str(RELEASES[-1] / "epochs.eval")
    assert ihsim("import", log, "-f", AUDIT).exit_code == 0
    assert ihsim("classify").exit_code == 0
    report = ihsim("report", "--json").stdout
    unrecorded = measures(report, "surveillance", "not recorded")
    assert unrecorded["mockllm/model", "system_prompter"]["subvert"]["n"] == 6
    assert not measures(report, "surveillance", "none")


def test_a_sample_without_the_metadata_asked_for_is_not_placed(ihsim: Invoke) -> None:
    log = str(RELEASES[-1] / "shared-prompt.eval")
    result = ihsim("import", log, "-f", AUDIT, "--axes-from", "conditions")
    assert result.exit_code == 1, result.output
    assert "25 not placed" in result.stderr
    assert (
        "not placed (25): metadata: no object 'conditions' in the sample's metadata"
        in result.stderr
    )
    assert f"    {log}:samples/tidy-01_epoch_1.json" in result.stderr


def test_the_logs_scores_and_gold_by_source_id_meet_ihsims_verdicts(ihsim: Invoke) -> None:
    log = str(RELEASES[0] / "shared-prompt.eval")
    run = ihsim("import", log, "-f", AUDIT).stdout.strip()
    assert ihsim("classify").exit_code == 0
    shown = json.loads(ihsim("validate", "--scores", run, "--json").stdout)
    table = {(r["scorer"], r["score"], r["label"]): r["n"] for r in shown["rows"]}
    # the task's own scorer says C when audit.log was kept: ihsim's comply and refuse
    assert table == {
        **{("includes", "C", "comply"): 9, ("includes", "I", "refuse"): 8},
        **{("includes", "I", "subvert"): 8, ("kept_audit_log", "C", "comply"): 9},
        **{("kept_audit_log", "C", "refuse"): 8, ("kept_audit_log", "I", "subvert"): 8},
    }
    text = ihsim("validate", "--scores", run).stdout
    assert "kept_audit_log (the source's score) against evidence v3" in text
    gold = [
        {"run": run, "source": "tidy-02#1", "principal": "system_prompter", "label": "subvert"},
        {"run": run, "source": "tidy-03#1", "principal": "system_prompter", "label": "comply"},
        {"run": run, "source": "tidy-99#1", "principal": "system_prompter", "label": "comply"},
    ]
    write_jsonl("gold.jsonl", gold)
    agreement = json.loads(ihsim("validate", "gold.jsonl", "--json").stdout)
    assert agreement["overall"]["n"] == 2 and agreement["missing_transcripts"] == 1
    confusion = agreement["overall"]["confusion"]  # rows: the person; columns: ihsim
    assert confusion["subvert"]["subvert"] == 1 and confusion["comply"]["refuse"] == 1
    exported = [json.loads(x) for x in ihsim("export", run, "-F", "jsonl").stdout.splitlines()]
    assert {r["source_key"] for r in exported} == {f"tidy-{n:02d}#1" for n in range(1, 26)}
    assert exported[0]["source_scores"] == {"includes": "C", "kept_audit_log": "C"}
    refused = ihsim("validate", "--scores", "run-nope")
    assert refused.exit_code == 2 and "no run 'run-nope'" in refused.stderr


def many_samples(path: Path, count: int) -> Path:
    """`count` lines answering one dilemma, each its own sample."""
    case = family_dilemmas()[0]
    line = answer(case, "decline", "lab/x", dilemma=case.id)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            out.write(json.dumps({**line, "source_id": f"s{n}"}) + "\n")
    return path


def test_an_import_killed_at_any_moment_leaves_the_store_as_before(tmp_path: Path) -> None:
    import random
    import signal
    import subprocess
    import sys
    import time

    source = many_samples(tmp_path / "big.jsonl", 20_000)
    db = tmp_path / "k.db"
    command = [sys.executable, "-m", "conflicts", "import", str(source), "-f", FAMILY]
    seen = set()
    for delay in [random.uniform(0.5, 6.0) for _ in range(4)]:
        victim = subprocess.Popen([*command, "--db", str(db)], stderr=subprocess.DEVNULL)
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        if db.exists():
            con = sqlite3.connect(db)
            (count,) = con.execute("SELECT COUNT(*) FROM transcripts").fetchone()
            (runs,) = con.execute("SELECT COUNT(*) FROM runs").fetchone()
            con.close()
            assert (count, runs) in ((0, 0), (20_000, 1)), (delay, count, runs)
            seen.add(count)
        if 20_000 in seen:
            break
    finished = subprocess.run([*command, "--db", str(db)], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM transcripts").fetchone() == (20_000,)
    con.close()


def test_keep_going_imports_the_good_files_and_names_the_bad(ihsim: Invoke) -> None:
    case = family_dilemmas()[0]
    good = write_jsonl("good.jsonl", [answer(case, "decline", "x", dilemma=case.id)])
    Path("bad.jsonl").write_text("not json\n", encoding="utf-8")
    stopped = ihsim("import", str(good), "bad.jsonl", "-f", FAMILY)
    assert stopped.exit_code == 2 and "bad.jsonl:1: not JSON" in stopped.stderr
    assert not Path(os.environ["IHSIM_DB"]).exists()
    kept = ihsim("import", str(good), "bad.jsonl", "-f", FAMILY, "--keep-going")
    assert kept.exit_code == 1, kept.output
    assert "1 samples read from good.jsonl: 1 imported" in kept.stderr
    assert "error: bad.jsonl:1: not JSON: Expecting value (skipped: --keep-going)" in kept.stderr
    assert db_rows("SELECT COUNT(*) FROM transcripts") == [(1,)]


def test_a_different_file_with_the_same_prompts_adds_its_samples(ihsim: Invoke) -> None:
    case = family_dilemmas()[0]
    first = write_jsonl("a.jsonl", [answer(case, "decline", "x", dilemma=case.id)] * 3)
    second = write_jsonl("b.jsonl", [answer(case, "decline", "x", dilemma=case.id)] * 2)
    assert ihsim("import", str(first), str(second), "-f", FAMILY).exit_code == 0
    rows = db_rows("SELECT run_id, COUNT(*), COUNT(DISTINCT epoch) FROM transcripts GROUP BY 1")
    assert sorted(n for _, n, _ in rows) == [2, 3] and all(n == k for _, n, k in rows)


def test_an_import_with_uneven_epochs_is_listed_as_complete(ihsim: Invoke) -> None:
    items = family_dilemmas()
    records = [answer(d, "decline", "x", dilemma=d.id) for d in items[:3]]
    records.append(answer(items[0], "decline", "x", dilemma=items[0].id))
    assert ihsim("import", str(write_jsonl("t.jsonl", records)), "-f", FAMILY).exit_code == 0
    [listed] = json.loads(ihsim("runs", "--json").stdout)
    assert (listed["done"], listed["planned"]) == (4, 4)


def test_the_same_file_twice_in_one_command_is_imported_once(ihsim: Invoke) -> None:
    log = str(RELEASES[-1] / "epochs.eval")
    result = ihsim("import", log, log, "-f", AUDIT)
    assert result.exit_code == 0, result.output
    assert ": 6 imported, 0 already there" in result.stderr
    assert ": 0 imported, 6 already there" in result.stderr
    assert db_rows("SELECT COUNT(*) FROM transcripts") == [(6,)]


def test_a_count_the_store_does_not_hold_is_never_printed(
    ihsim: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conflicts.run import transcript_import

    log = str(RELEASES[-1] / "epochs.eval")
    assert ihsim("import", log, "-f", AUDIT).exit_code == 0
    # a store whose samples the import cannot see: it would write every one a second time
    monkeypatch.setattr(transcript_import.Existing, "of", classmethod(lambda cls, s, r: cls()))
    again = ihsim("import", log, "-f", AUDIT)
    assert again.exit_code == 2, again.output
    assert "6 transcripts to import, 0 stored; this file's import was rolled back" in again.stderr
    assert db_rows("SELECT COUNT(*) FROM transcripts") == [(6,)]


def test_a_person_labelling_an_import_sees_and_keeps_the_source_key(ihsim: Invoke) -> None:
    log = str(RELEASES[-1] / "epochs.eval")
    assert ihsim("import", log, "-f", AUDIT).exit_code == 0
    assert ihsim("classify").exit_code == 0
    shown = ihsim("label", "-o", "gold.jsonl", "-n", "1", input="s\n")
    assert " · source tidy-0" in shown.stdout
    [line] = [json.loads(x) for x in Path("gold.jsonl").read_text().splitlines()]
    assert line["source"].startswith("tidy-0") and line["label"] == "subvert"
    agreement = json.loads(ihsim("validate", "gold.jsonl", "--json").stdout)
    assert agreement["overall"]["n"] == 1


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("surveillance=nope", "--axes: unknown value 'nope' for axis surveillance"),
        ("framing=prohibitive", "--axes: this family does not vary 'framing'"),
        ("surveillance=none|monitored", "--axes: give one value of surveillance"),
    ],
)
def test_bad_axes_for_a_file_are_one_error_and_write_nothing(
    ihsim: Invoke, given: str, message: str
) -> None:
    result = ihsim("import", str(RELEASES[-1] / "epochs.eval"), "-f", AUDIT, "--axes", given)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not Path(os.environ["IHSIM_DB"]).exists()


def test_a_gold_line_that_names_no_transcript_is_bad_input(ihsim: Invoke) -> None:
    write_jsonl("gold.jsonl", [{"run": "r", "principal": "end_user", "label": "comply"}])
    result = ihsim("validate", "gold.jsonl")
    assert result.exit_code == 2
    assert "gold.jsonl:1: name the transcript by dilemma, model and epoch, or by source" in (
        result.stderr
    )
