"""Migrations as named, tested units: a store made at the first migration and upgraded step by
step, as every older ihsim left one, has exactly the schema of a fresh store."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from conflicts.scenarios.axes import parse_axes
from conflicts.scenarios.dilemma import Dilemma
from conflicts.scenarios.family import load_family
from conflicts.scenarios.generate import dilemmas
from conflicts.store import database
from conflicts.store.database import Store
from conflicts.store.migrations import MIGRATIONS
from hierarchy import load_hierarchy
from tests.conftest import Invoke


def schema(path: Path) -> dict[str, object]:
    """Every table's columns (name, type, not null, default, key) and every index, by name."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found: dict[str, object] = {
            f"table {t}": db.execute(f"PRAGMA table_info({t})").fetchall() for t in sorted(tables)
        }
        for name, table, sql in db.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
        ):
            found[f"index {name}"] = (table, sql)
        found["migrations"] = [r[0] for r in db.execute("SELECT name FROM migrations")]
        return found
    finally:
        db.close()


def test_a_store_upgraded_step_by_step_matches_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old.db"
    for step in range(1, len(MIGRATIONS) + 1):
        with monkeypatch.context() as patched:
            patched.setattr(database, "MIGRATIONS", MIGRATIONS[:step])
            Store(old).close()
        assert schema(old)["migrations"] == [name for name, _ in MIGRATIONS[:step]]
    Store(old).close()  # and opened again by today's ihsim: nothing left to apply
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    assert schema(old) == schema(fresh)


def test_the_comparison_sees_a_missing_column(tmp_path: Path) -> None:
    """The check above can fail: a store that skipped a migration differs from a fresh one."""
    fresh, short = tmp_path / "fresh.db", tmp_path / "short.db"
    Store(fresh).close()
    Store(short).close()
    db = sqlite3.connect(short)
    db.execute("ALTER TABLE verdicts DROP COLUMN flagged")
    db.commit()
    db.close()
    assert schema(short) != schema(fresh)


def test_migration_names_are_unique_and_ordered() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(name[:3].isdigit() and name[3] == "_" for name in names)


def _file_bytes(path: Path) -> bytes:
    return path.read_bytes()


def _store_edited(path: Path, statement: str) -> Path:
    """A fresh ihsim store, then one statement applied to it behind ihsim's back."""
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(statement)
    db.commit()
    db.close()
    return path


def test_another_programs_database_is_refused_untouched(ihsim: Invoke, tmp_path: Path) -> None:
    """Issue 16: ihsim's migrations table was added before it said 'not an ihsim database'."""
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    db.execute("INSERT INTO orders VALUES (1, 9.5)")
    db.commit()
    db.close()
    before = _file_bytes(other)
    for args in (["runs"], ["report"], ["classify"]):
        result = ihsim(*args, "--db", str(other))
        assert result.exit_code == 2, result.output
        assert "other.db: not an ihsim database (it holds orders)" in result.stderr
    assert _file_bytes(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal, no -shm


def test_a_newer_ihsims_database_is_refused_untouched(ihsim: Invoke, tmp_path: Path) -> None:
    newer = _store_edited(
        tmp_path / "newer.db", "INSERT INTO migrations VALUES ('999_from_the_future', '2030')"
    )
    rows = sqlite3.connect(newer).execute("SELECT COUNT(*) FROM migrations").fetchone()
    result = ihsim("runs", "--db", str(newer))
    assert result.exit_code == 2
    assert "written by a newer ihsim (migration '999_from_the_future'" in result.stderr
    assert sqlite3.connect(newer).execute("SELECT COUNT(*) FROM migrations").fetchone() == rows


def test_a_renamed_column_is_a_one_line_error_not_a_traceback(
    ihsim: Invoke, tmp_path: Path
) -> None:
    edited = _store_edited(
        tmp_path / "edited.db", "ALTER TABLE transcripts RENAME COLUMN final_answer TO answer"
    )
    result = ihsim("report", "--db", str(edited))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "table 'transcripts' lacks column 'final_answer'" in result.stderr


def test_an_older_stores_dilemmas_get_their_facts_from_their_bodies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 013 fills each dilemma's setting and tool count from its body: a store written
    before it, upgraded, holds what today's ihsim writes for the same dilemmas."""
    cases = [
        case
        for family in ("environment-hacking", "confidential-instructions")
        for case in _some_dilemmas(family)
    ]
    assert {len(c.tools) > 0 for c in cases} == {True, False}
    assert len({c.setting for c in cases}) > 1
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    before = [m for m in MIGRATIONS if m[0] < "013"]
    with monkeypatch.context() as patched:
        patched.setattr(database, "MIGRATIONS", before)
        Store(old).close()
    db = sqlite3.connect(old)
    db.executemany(
        "INSERT INTO dilemmas VALUES (?, ?, ?, ?, ?)",
        [(c.id, c.family, c.hierarchy, json.dumps(c.axes), c.model_dump_json()) for c in cases],
    )
    db.commit()
    db.close()
    Store(old).close()
    with Store(fresh) as store, store.db:
        store.db.execute("INSERT INTO runs VALUES ('r', '', '', '', '[]', 1, '{}', 0)")
        store.add_dilemmas("r", ((c, c.model_dump_json()) for c in cases))
    facts = "SELECT id, setting, tool_count FROM dilemmas ORDER BY id"
    upgraded = sqlite3.connect(old).execute(facts).fetchall()
    assert upgraded == sqlite3.connect(fresh).execute(facts).fetchall()
    assert upgraded == sorted((c.id, c.setting, len(c.tools)) for c in cases)


def _some_dilemmas(family: str) -> list[Dilemma]:
    spec = load_family(family)
    axes = parse_axes(None, spec.supported_axes())
    return list(itertools.islice(dilemmas(spec, load_hierarchy("model-spec"), axes, 0), 40))
