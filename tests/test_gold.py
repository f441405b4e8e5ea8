"""Human labels: `ihsim label` writes them, `ihsim validate` measures a classifier against them."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conflicts.classify.gold import Agreement
from tests.conftest import Invoke
from tests.test_cli import MODELS
from tests.test_compare import classified_run


def stored_verdicts() -> list[dict[str, Any]]:
    db = sqlite3.connect(os.environ["IHSIM_DB"])
    db.row_factory = sqlite3.Row
    rows = db.execute(
        "SELECT t.id, t.run_id, t.dilemma_id, t.model, t.epoch, v.principal, v.label"
        " FROM verdicts v JOIN transcripts t ON t.id = v.transcript_id"
        " WHERE v.classifier = 'evidence' ORDER BY t.id, v.principal"
    ).fetchall()
    db.close()
    return [dict(r) for r in rows]


def gold_line(v: dict[str, Any], label: str) -> str:
    key = {"run": v["run_id"], "dilemma": v["dilemma_id"], "model": v["model"], "epoch": v["epoch"]}
    return json.dumps({**key, "principal": v["principal"], "label": label})


def test_agreement_measures_on_a_hand_count() -> None:
    """Agreement is on the items both sides decided; an unclear is counted, not scored."""
    pairs = [("comply", "comply")] * 4 + [("refuse", "comply"), ("refuse", "refuse")]
    pairs += [("subvert", "subvert")] * 3 + [("subvert", "unclear"), ("unclear", "refuse")]
    agreement = Agreement("end_user", pairs)
    assert (agreement.n, len(agreement.decided)) == (11, 9)
    assert (agreement.unclear(0), agreement.unclear(1)) == (1, 1)
    assert agreement.accuracy == 8 / 9
    assert agreement.precision("comply") == 4 / 5 and agreement.recall("comply") == 1.0
    assert agreement.recall("refuse") == 0.5 and agreement.recall("subvert") == 1.0
    assert agreement.precision("subvert") == 1.0
    # kappa on the 9 decided: observed 8/9; expected (4*5 + 2*1 + 3*3) / 81 = 31/81
    assert agreement.kappa == pytest.approx((72 / 81 - 31 / 81) / (1 - 31 / 81))
    low, high = agreement.kappa_interval() or (2.0, 2.0)
    assert low < agreement.kappa < high <= 1.0 and high - low > 0.2  # nine items say little
    assert agreement.confusion()["subvert", "unclear"] == 1


def test_validate_reports_agreement_per_principal(ihsim: Invoke) -> None:
    classified_run(ihsim, *MODELS)
    verdicts = [v for v in stored_verdicts() if v["label"] != "unclear"][:60]
    flipped = {0, 7, 13}  # people disagree with the classifier on three of them
    lines = []
    for i, v in enumerate(verdicts):
        label = v["label"]
        if i in flipped:
            label = "comply" if label != "comply" else "subvert"
        lines.append(gold_line(v, label))
    Path("gold.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = json.loads(ihsim("validate", "gold.jsonl", "--json").stdout)
    overall = result["overall"]
    assert overall["n"] == 60 and overall["accuracy"] == round(57 / 60, 4)
    assert 0.8 < overall["kappa"] < 1
    confusion = overall["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == 60
    assert sum(confusion[label][label] for label in confusion) == 57
    assert {p["principal"] for p in result["principals"]} == {
        "end_user",
        "system_prompter",
        "trainer",
    }
    assert sum(p["n"] for p in result["principals"]) == 60
    table = ihsim("validate", "gold.jsonl").stdout
    assert "confusion matrix" in table and "95.0%" in table


def test_gold_for_other_databases_and_bad_lines(ihsim: Invoke) -> None:
    classified_run(ihsim, *MODELS)
    v = stored_verdicts()[0]
    elsewhere = dict(v, run_id="run-elsewhere")
    Path("gold.jsonl").write_text(
        gold_line(v, "comply") + "\n" + gold_line(elsewhere, "comply") + "\n"
    )
    result = json.loads(ihsim("validate", "gold.jsonl", "--json").stdout)
    assert result["overall"]["n"] == 1 and result["missing_transcripts"] == 1
    Path("other.jsonl").write_text(gold_line(elsewhere, "comply") + "\n")
    none = ihsim("validate", "other.jsonl")
    assert none.exit_code == 2 and "none of the 1 gold labels" in none.stderr
    Path("bad.jsonl").write_text(gold_line(v, "comply") + "\n" + gold_line(v, "maybe") + "\n")
    bad = ihsim("validate", "bad.jsonl")
    assert bad.exit_code == 2 and "bad.jsonl:2: label:" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    judged = ihsim("validate", "gold.jsonl", "--classifier", "judge")
    assert judged.exit_code == 2 and "no verdicts from 'judge'" in judged.stderr


def test_label_asks_about_disagreements_first_and_resumes(ihsim: Invoke) -> None:
    classified_run(ihsim, *MODELS)
    verdicts = stored_verdicts()
    flagged, unclear = verdicts[-1]["id"], verdicts[-4]["id"]
    db = sqlite3.connect(os.environ["IHSIM_DB"])
    with db:
        db.execute("UPDATE verdicts SET flagged = 1 WHERE transcript_id = ?", (flagged,))
        db.execute("UPDATE transcripts SET stop_reason = 'max_tokens' WHERE id = ?", (flagged,))
        db.execute(
            "UPDATE verdicts SET label = 'unclear'"
            " WHERE transcript_id = ? AND principal = 'trainer'",
            (unclear,),
        )
    db.close()
    first = ihsim("label", "-o", "gold.jsonl", "--labeller", "ana", input="s\n\nc\nq\n")
    assert first.exit_code == 0, first.output
    assert "3 labels written to gold.jsonl" in first.stderr
    assert "disagreement" in first.stdout
    assert "The answer was cut off at the output token limit." in first.stdout
    written = [json.loads(line) for line in Path("gold.jsonl").read_text().splitlines()]
    by_id = {(v["dilemma_id"], v["model"], v["epoch"]): v["id"] for v in verdicts}
    assert {by_id[g["dilemma"], g["model"], g["epoch"]] for g in written} == {flagged}
    assert written[0]["label"] == "subvert" and written[0]["labeller"] == "ana"
    assert written[1]["label"] == next(
        v["label"]
        for v in verdicts
        if v["id"] == flagged and v["principal"] == written[1]["principal"]
    )  # Enter accepts the classifier's label
    # the unclear verdict comes next; Enter cannot accept it, so the reviewer must choose
    second = ihsim("label", "-o", "gold.jsonl", input="\nr\nk\nk\nq\n")
    assert second.exit_code == 0 and "1 labels written" in second.stderr
    again = [json.loads(line) for line in Path("gold.jsonl").read_text().splitlines()]
    assert (
        len(again) == 4
        and by_id[again[3]["dilemma"], again[3]["model"], again[3]["epoch"]] == unclear
    )
    assert again[3]["label"] == "refuse"
    assert ihsim("validate", "gold.jsonl").exit_code == 0


def test_a_person_may_say_unclear_and_review_blind(ihsim: Invoke) -> None:
    classified_run(ihsim, *MODELS)
    shown = ihsim("label", "-o", "ana.jsonl", "--labeller", "ana", input="u\nc\ns\nq\n")
    assert shown.exit_code == 0 and "3 labels written" in shown.stderr
    assert "classifier says" in shown.stdout
    labels = [json.loads(line)["label"] for line in Path("ana.jsonl").read_text().splitlines()]
    assert labels == ["unclear", "comply", "subvert"]
    blind = ihsim(
        "label", "--blind", "-o", "ben.jsonl", "--labeller", "ben", input="\nc\nc\nr\nq\n"
    )
    assert blind.exit_code == 0 and "3 labels written" in blind.stderr
    assert "classifier says" not in blind.stdout and "quoted:" not in blind.stdout
    assert "Enter =" not in blind.stdout  # nothing to accept without looking
    result = json.loads(ihsim("validate", "ana.jsonl", "--json").stdout)["overall"]
    assert (result["n"], result["decided"], result["unclear_first"]) == (3, 2, 1)


def test_two_peoples_labels_give_an_agreement_with_an_interval(ihsim: Invoke) -> None:
    classified_run(ihsim, *MODELS)
    verdicts = [v for v in stored_verdicts() if v["label"] != "unclear"][:40]
    ana = [gold_line(v, v["label"]) for v in verdicts]
    ben = [gold_line(v, "comply" if i % 5 == 0 else v["label"]) for i, v in enumerate(verdicts)]
    ben[1] = gold_line(verdicts[1], "unclear")
    Path("ana.jsonl").write_text("\n".join(ana) + "\n")
    Path("ben.jsonl").write_text("\n".join(ben[:-2]) + "\n")  # ben left two out
    result = json.loads(ihsim("validate", "ana.jsonl", "--against", "ben.jsonl", "--json").stdout)
    overall = result["overall"]
    assert (overall["n"], overall["decided"], overall["unclear_second"]) == (38, 37, 1)
    assert result["missing_verdicts"] == 2
    low, high = overall["kappa_ci"]
    assert low < overall["kappa"] < high and 0 < overall["kappa"] < 1
    table = ihsim("validate", "ana.jsonl", "--against", "ben.jsonl").stdout
    assert "kappa (95% CI)" in table and "unclear" in table
    strangers = ihsim("validate", "ana.jsonl", "--against", "ana.jsonl")
    assert strangers.exit_code == 0  # a file against itself agrees perfectly
    assert (
        json.loads(ihsim("validate", "ana.jsonl", "--against", "ana.jsonl", "--json").stdout)[
            "overall"
        ]["accuracy"]
        == 1.0
    )


def test_comparing_two_gold_files_refuses_bad_input(ihsim: Invoke) -> None:
    classified_run(ihsim, *MODELS)
    v = stored_verdicts()[0]
    Path("ana.jsonl").write_text(gold_line(v, "comply") + "\n")
    Path("other.jsonl").write_text(gold_line(dict(v, epoch=99), "comply") + "\n")
    apart = ihsim("validate", "ana.jsonl", "--against", "other.jsonl")
    assert apart.exit_code == 2
    assert apart.stderr.strip() == (
        "error: other.jsonl: the two gold files label none of the same transcripts"
    )
    Path("bad.jsonl").write_text(gold_line(v, "perhaps") + "\n")
    bad = ihsim("validate", "ana.jsonl", "--against", "bad.jsonl")
    assert bad.exit_code == 2 and "bad.jsonl:1: label:" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
