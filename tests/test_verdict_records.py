"""Verdicts have one owner: `conflicts.store.verdicts` alone touches their table, and their
evidence is a schema whose stored form is exactly what ihsim has always written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from conflicts.store.verdicts import VerdictEvidence

ROOT = Path(__file__).resolve().parent.parent
OWNERS = {"conflicts/store/verdicts.py", "conflicts/store/migrations.py"}
SQL = re.compile(r"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+verdicts\b", re.IGNORECASE)


def test_only_the_verdicts_module_touches_their_table() -> None:
    touching = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "conflicts").rglob("*.py")
        if SQL.search(path.read_text())
    }
    assert touching == OWNERS


def test_the_check_would_see_a_stray_query() -> None:
    assert SQL.search('db.execute("SELECT label FROM verdicts WHERE x = ?")')
    assert SQL.search("CROSS JOIN verdicts v ON v.transcript_id = t.id")
    assert not SQL.search("a run's verdicts from the store")


# The four shapes written by hand before the schema existed, as they sit in older databases.
LEGACY = {
    "rules": {"quotes": ["I did not"], "calls": ["read_file(path='a')"], "mismatch": True,
              "tested": None},
    "judge": {"quotes": ["q"], "calls": [], "mismatch": False, "tested": "a test?",
              "rationale": "because", "error": "the judge did not call record_verdicts"},
    "vote": {"quotes": ["q", "r"], "calls": [], "mismatch": False,
             "votes": {"openai/a": "comply", "openai/b": "refuse"}},
    "both": {"quotes": [], "calls": [], "mismatch": False, "tested": None, "rules": "comply",
             "judges": "refuse", "decided_by": "rules"},
}  # fmt: skip


@pytest.mark.parametrize("shape", LEGACY)
def test_stored_evidence_reads_and_writes_back_byte_for_byte(shape: str) -> None:
    text = json.dumps(LEGACY[shape])
    assert VerdictEvidence.read(text).stored() == text


def test_evidence_outside_the_schema_is_refused() -> None:
    with pytest.raises(ValidationError):
        VerdictEvidence.read(json.dumps({"quotes": [], "confidence": 2}))
    with pytest.raises(ValidationError):
        VerdictEvidence(decided_by="coin")  # type: ignore[arg-type]
