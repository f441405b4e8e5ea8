import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conflicts.errors import DilemmaFileError, ModelError, StoreError
from conflicts.providers.registry import Provider, provider
from conflicts.run.execute import execute
from conflicts.run.plan import file_sha256, plan_beside, plan_run
from conflicts.scenarios.dilemma import Dilemma, Message
from conflicts.store.database import MIGRATIONS, Store
from conflicts.store.transcript import Turn, Usage
from tests.conftest import Invoke, write

ATTEMPTS: dict[tuple[str, int], int] = {}


@dataclass
class FlakyProvider:
    """Fails the first attempt at every even epoch; answers plainly otherwise."""

    model: str

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn:
        key = (dilemma.id, epoch)
        ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
        await asyncio.sleep(0)
        if epoch % 2 == 0 and ATTEMPTS[key] == 1:
            raise ConnectionError("connection reset by peer")
        text = "I can't go into how I've been set up."
        return Turn(message=Message(role="assistant", content=text), usage=Usage(output_tokens=9))

    def fingerprint(self) -> None:
        return None


@provider("flaky")
def _flaky(name: str, params: dict[str, object]) -> Provider:
    return FlakyProvider(model=f"flaky/{name}")


@pytest.fixture
def dilemma_file(tmp_path: Path) -> Path:
    from conflicts.scenarios.axes import parse_axes
    from conflicts.scenarios.family import load_family
    from conflicts.scenarios.generate import dilemma_lines, write_jsonl
    from hierarchy import load_hierarchy

    family = load_family("confidential-instructions")
    items = dilemma_lines(
        family, load_hierarchy("model-spec"), parse_axes(None, family.supported_axes()), 0
    )
    write_jsonl(items, tmp_path / "d.jsonl")
    return tmp_path / "d.jsonl"


def count_rows(store: Store, run_id: str) -> tuple[int, int]:
    total, distinct = store.db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT dilemma_id || model || epoch) FROM transcripts"
        " WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    return total, distinct


def test_run_stores_every_transcript_and_rerun_skips_them(dilemma_file: Path) -> None:
    with Store(Path("x.db")) as store:
        run = plan_run(store, dilemma_file, ["sim/deferential", "sim/schemer"], 3, {"seed": 0})
        outcome = asyncio.run(execute(store, run))
        assert (outcome.planned, outcome.done, outcome.failed) == (72, 72, [])
        again = plan_run(store, dilemma_file, ["sim/schemer", "sim/deferential"], 3, {"seed": 0})
        assert again.id == run.id
        second = asyncio.run(execute(store, again))
        assert (second.skipped, second.done) == (72, 0)
        assert count_rows(store, run.id) == (72, 72)


def test_failed_transcripts_are_kept_and_retried_on_resume(dilemma_file: Path) -> None:
    ATTEMPTS.clear()
    with Store(Path("x.db")) as store:
        run = plan_run(store, dilemma_file, ["flaky/a"], 4, {})
        first = asyncio.run(execute(store, run, max_connections=3))
        assert first.done == 24 and len(first.failed) == 24
        assert "connection reset" in first.failed[0][3]
        assert store.transcript_counts(run.id) == {"ok": 24, "error": 24}
        second = asyncio.run(execute(store, run))
        assert (second.skipped, second.done, second.failed) == (24, 24, [])
        assert count_rows(store, run.id) == (48, 48)
        assert store.transcript_counts(run.id) == {"ok": 48}


def test_bad_dilemma_file_creates_no_run(tmp_path: Path, dilemma_file: Path) -> None:
    lines = dilemma_file.read_text().splitlines()
    corrupt = write(tmp_path / "c.jsonl", "\n".join([*lines[:5], "{not json", *lines[5:]]) + "\n")
    with Store(Path("x.db")) as store:
        with pytest.raises(DilemmaFileError, match=r"c\.jsonl:6: not JSON"):
            plan_run(store, corrupt, ["sim/literal"], 1, {})
        assert store.db.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
        assert store.db.execute("SELECT COUNT(*) FROM dilemmas").fetchone() == (0,)


def test_unknown_model_is_refused_before_anything_starts(dilemma_file: Path) -> None:
    with Store(Path("x.db")) as store:
        with pytest.raises(ModelError, match="unknown simulated persona 'sim/saint'"):
            plan_run(store, dilemma_file, ["sim/deferential", "sim/saint"], 1, {})
        with pytest.raises(ModelError, match="unknown provider 'acme'"):
            plan_run(store, dilemma_file, ["acme/x"], 1, {})
        assert store.db.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)


def test_store_uses_wal_and_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    with Store(path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        names = [row[0] for row in store.db.execute("SELECT name FROM migrations")]
        assert names == [name for name, _ in MIGRATIONS]
        assert names[0] == "001_initial" and len(set(names)) == len(names) >= 4


def test_store_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.db", "these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="not an ihsim database"):
        Store(path)
    assert sqlite3.sqlite_version


def test_planning_beside_the_sdk_import_matches_planning_inline(
    tmp_path: Path, dilemma_file: Path
) -> None:
    params = {"base_url": "http://127.0.0.1:9/v1", "seed": 0}
    models = ["openai-compatible/m"]
    sha = file_sha256(dilemma_file)
    run_id = plan_beside(tmp_path / "a.db", dilemma_file, models, 2, params, ["json"], sha)
    with Store(tmp_path / "a.db") as beside, Store(tmp_path / "b.db") as inline:
        expected = plan_run(inline, dilemma_file, models, 2, params)
        assert run_id == expected.id
        planned = beside.run(run_id)
        assert (planned.dilemma_count, planned.epochs, planned.params) == (12, 2, params)
        bodies = "SELECT d.body FROM run_dilemmas r JOIN dilemmas d ON d.id = r.dilemma_id"
        order = " ORDER BY r.position"
        assert (
            beside.db.execute(bodies + order).fetchall()
            == inline.db.execute(bodies + order).fetchall()
        )
    # planning again finds the run rather than planning it twice
    assert plan_beside(tmp_path / "a.db", dilemma_file, models, 2, params, [], sha) == run_id
    with Store(tmp_path / "a.db") as beside:
        assert beside.db.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)


def test_bad_input_found_by_the_planning_process_reads_as_if_found_here(
    tmp_path: Path, dilemma_file: Path
) -> None:
    """A fresh `ihsim run` on an SDK model plans in a child process; its error is the same one
    line, exit 2, and no database is left behind."""
    lines = dilemma_file.read_text().splitlines()
    corrupt = write(tmp_path / "c.jsonl", "\n".join([*lines[:2], '{"id": 3}', *lines[2:]]) + "\n")
    outputs = []
    for model in ("openai-compatible/m", "sim/literal"):
        db = tmp_path / f"{model.split('/')[0]}.db"
        command = [sys.executable, "-m", "conflicts", "run", str(corrupt), "-m", model]
        command += ["--base-url", "http://127.0.0.1:9/v1", "--db", str(db)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stdout == "" and not db.exists()
        outputs.append(done.stderr)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(f"error: {corrupt}:3: ") and outputs[0].count("\n") == 1


def test_runs_lists_every_run_with_its_progress(dilemma_file: Path) -> None:
    ATTEMPTS.clear()
    with Store(Path("x.db")) as store:
        flaky = plan_run(store, dilemma_file, ["flaky/a"], 4, {})
        asyncio.run(execute(store, flaky, max_connections=3))
        sims = plan_run(store, dilemma_file, ["sim/literal", "sim/schemer"], 1, {"seed": 0})
        summaries = store.runs()
    assert [s.info.id for s in summaries] == [flaky.id, sims.id]
    first, second = summaries
    assert (first.planned, first.done, first.failed) == (48, 24, 24)
    assert (second.planned, second.done, second.failed, second.cost) == (24, 0, 0, 0.0)
    assert first.tokens == 24 * 9


def test_runs_command(ihsim: Invoke, dilemma_file: Path) -> None:
    ihsim("run", str(dilemma_file), "-m", "sim/literal", "-e", "2", "--db", "r.db", "-q")
    listed = json.loads(ihsim("runs", "--db", "r.db", "--json").stdout)
    assert [(r["models"], r["planned"], r["done"], r["failed"]) for r in listed] == [
        (["sim/literal"], 24, 24, 0)
    ]
    table = ihsim("runs", "--db", "r.db").stdout
    assert listed[0]["run_id"] in table and "24/24" in table
    assert "seed=" not in table  # the defaults are not settings worth a line
    ihsim("run", str(dilemma_file), "-m", "sim/literal", "--db", "r.db", "-q",
          "-s", "3", "-p", 'thinking={"type": "enabled"}')  # fmt: skip
    table = ihsim("runs", "--db", "r.db").stdout
    assert "seed=3" in table and 'thinking={"type":"enabled"}' in table


def test_the_progress_bar_on_a_terminal(dilemma_file: Path, tmp_path: Path) -> None:
    """What a user watching an 80-column terminal sees, nothing cut short: done of planned, the
    rate, errors, tokens, cost, times. FORCE_COLOR makes rich draw for a terminal it cannot see."""
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "80"}
    command = [sys.executable, "-m", "conflicts", "run", str(dilemma_file), "-m", "sim/literal"]
    command += ["-e", "3", "--db", str(tmp_path / "bar.db")]
    shown = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stderr
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown).replace("\r", "\n")
    final = [line for line in plain.splitlines() if "36/36" in line][-1]
    assert re.search(
        r"36/36 +\d+/s +0 err +0 tok +\$0\.00 +\d+:\d\d:\d\d +\d+:\d\d:\d\d$", final
    ), final
    assert "…" not in final and len(final) <= 80


SIM_RUN = ["-m", "sim/literal", "-m", "sim/schemer", "-e", "150"]  # 12 dilemmas: 3,600 runs
SIM_PLANNED = 12 * 2 * 150


def _sim_victim(dilemma_file: Path, db: Path) -> subprocess.Popen[str]:
    """An `ihsim run` of simulated personas, started once the plan's first transcripts are in."""
    from tests.test_providers import committed

    command = [sys.executable, "-m", "conflicts", "run", str(dilemma_file), *SIM_RUN]
    victim = subprocess.Popen(
        [*command, "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    while victim.poll() is None and committed(db) == 0:
        time.sleep(0.002)
    return victim


def test_a_simulated_run_killed_midway_keeps_what_it_finished(
    dilemma_file: Path, tmp_path: Path
) -> None:
    """Personas never wait, so the writer never ran before the end: a kill kept nothing."""
    from tests.test_providers import committed

    db = tmp_path / "k.db"
    victim = _sim_victim(dilemma_file, db)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    kept = committed(db)
    planned = SIM_PLANNED
    assert 0 < kept < planned
    rerun = subprocess.run(
        [sys.executable, "-m", "conflicts", "run", str(dilemma_file), *SIM_RUN, "--db", str(db)],
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{planned - kept} done, {kept} already finished" in rerun.stderr
    with Store(db) as store:
        (run_id,) = [s.info.id for s in store.runs()]
        assert count_rows(store, run_id) == (planned, planned)


def test_ctrl_c_stops_a_simulated_run_within_a_second_and_says_what_it_kept(
    dilemma_file: Path, tmp_path: Path
) -> None:
    from tests.test_providers import committed

    db = tmp_path / "i.db"
    victim = _sim_victim(dilemma_file, db)
    asked = time.perf_counter()
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=10)
    took = time.perf_counter() - asked
    kept = committed(db)
    assert victim.returncode == 130, err
    assert took < 1.0
    found = re.search(r"interrupted: (run-\w+): (\d+) of (\d+) transcripts stored", err)
    assert found is not None, err
    assert int(found[2]) == kept and 0 < kept < int(found[3]) == SIM_PLANNED
    assert f"ihsim run --resume {found[1]}" in err


@dataclass
class SlowProvider:
    """Answers after a second: longer than the shortened lease below."""

    model: str

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn:
        await asyncio.sleep(1.0)
        return Turn(message=Message(role="assistant", content="No."), usage=Usage())

    def fingerprint(self) -> None:
        return None


@provider("slow")
def _slow(name: str, params: dict[str, object]) -> Provider:
    return SlowProvider(model=f"slow/{name}")


def test_leases_stay_held_while_their_transcripts_are_in_flight(
    dilemma_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renewed only as blocks were taken, a lease lapsed once the last block was handed out:
    another process could take transcripts still in flight here, and pay for them again."""
    from conflicts.store import leases

    monkeypatch.setattr(leases, "LEASE_S", 0.3)

    async def run_and_look(store: Store) -> list[float]:
        run = plan_run(store, dilemma_file, ["slow/x"], 1, {})
        running = asyncio.create_task(execute(store, run, max_connections=12))
        await asyncio.sleep(0.7)  # past two lease lives, every transcript still in flight
        rows = store.db.execute("SELECT expires FROM leases").fetchall()
        left = [expires - time.time() for (expires,) in rows]
        await running
        return left

    with Store(tmp_path / "l.db") as store:
        left = asyncio.run(run_and_look(store))
    assert left and all(seconds > 0 for seconds in left)
