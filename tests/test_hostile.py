"""The hostile-input suite: what a careless or adversarial user can hand each command.

Every case ends in one line on stderr and exit code 2, with nothing written: no store, no
output file, no partial file beside it. A few seconds in all.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conflicts.providers.registry import Provider, provider
from tests.conftest import Invoke
from tests.test_providers import dilemma_file

NUMBERS = [
    (["-t", "nan"], "nan' is not a finite number"),
    (["-t", "inf"], "inf is not in the range"),
    (["-t", "-1"], "-1.0 is not in the range"),
    (["--max-cost", "nan"], "nan' is not a finite number"),
    (["--max-cost", "-1"], "is not in the range"),
    (["--timeout", "nan"], "nan' is not a finite number"),
    (["--timeout", "inf"], "is not in the range"),
    (["-e", "1000000000"], "1000000000 is not in the range 1<=x<=100000"),
    (["-e", "-3"], "-3 is not in the range"),
    (["-c", "1000000000"], "1000000000 is not in the range 1<=x<=4096"),
    (["--seed", str(2**70)], "is not in the range"),
    (["--max-turns", "0"], "0 is not in the range"),
    (["--max-tokens", "0"], "0 is not in the range"),
    (["--base-url", "not a url"], "'not a url' is not an http(s) URL"),
    (["--base-url", "http://127.0.0.1:port/v1"], "is not a URL"),
    (["--base-url", "ftp://example.org/v1"], "is not an http(s) URL"),
    (["-p", "x=NaN"], "-p: NaN is not a number a request can carry"),
    (["-p", 'x={"a": -Infinity}'], "-p: -Infinity is not a number"),
]


def one_error_line(stderr: str, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and expected in lines[0], stderr


@pytest.mark.parametrize(("extra", "expected"), NUMBERS, ids=[" ".join(a) for a, _ in NUMBERS])
def test_run_refuses_numbers_and_urls_it_cannot_use(
    ihsim: Invoke, tmp_path: Path, extra: list[str], expected: str
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=2)
    result = ihsim("run", str(dilemmas), "-m", "sim/literal", "--db", "n.db", *extra)
    assert result.exit_code == 2
    one_error_line(result.stderr, expected)
    assert not (tmp_path / "n.db").exists()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["-t", "nan"], "nan is not a finite number"),
        (["-t", "5"], "5.0 is not in the range"),
        (["--judge-base-url", "localhost:8000"], "is not an http(s) URL"),
        (["-c", "0"], "0 is not in the range"),
    ],
)
def test_classify_refuses_numbers_and_urls_it_cannot_use(
    ihsim: Invoke, tmp_path: Path, extra: list[str], expected: str
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=2)
    assert ihsim("run", str(dilemmas), "-m", "sim/literal", "-q").exit_code == 0
    result = ihsim("classify", "--classifier", "judge", "-j", "openai-compatible/j", *extra)
    assert result.exit_code == 2
    one_error_line(result.stderr, expected)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--bogus"],
        ["generate", "-f"],
        ["report", "-F", "pdf"],
        ["nonesuch"],
        ["runs", "extra-argument"],
    ],
)
def test_usage_errors_are_one_error_line(ihsim: Invoke, args: list[str]) -> None:
    """Not click's three lines (usage, hint, error): the README promises one."""
    result = ihsim(*args)
    assert result.exit_code == 2
    one_error_line(result.stderr, "(see ihsim")


# --- YAML: hierarchies, families and price tables are all read by hierarchy/source.py ---

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
YAML_CASES = {
    "billion laughs": (LAUGHS, "more than 200,000 values once aliases are expanded"),
    "NUL byte": ("name: a\nprincipals: {a: b\x00}\n", "h.yaml:2: malformed YAML: character #x0000"),
    "nested 20,000 deep": ("a: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested more than 64"),
    "nested block 100 deep": ("".join("  " * i + "k:\n" for i in range(100)), "nested more"),
    "duplicate key": (
        "name: a\nprincipals: []\nname: b\n",
        "h.yaml:3: name: key 'name' is given twice (first on line 1)",
    ),
}


@pytest.mark.parametrize(("text", "expected"), YAML_CASES.values(), ids=YAML_CASES.keys())
def test_hostile_yaml_is_refused_quickly(
    ihsim: Invoke, tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "h.yaml").write_text(text, encoding="utf-8")
    for command in (["hierarchy", "validate", "h.yaml"], ["families", "validate", "h.yaml"]):
        result = ihsim(*command)
        assert result.exit_code == 2
        one_error_line(result.stderr, expected)


def test_a_yaml_file_too_large_to_be_hand_written_is_not_read(
    ihsim: Invoke, tmp_path: Path
) -> None:
    with (tmp_path / "big.yaml").open("w") as handle:
        handle.truncate(9 << 20)  # sparse: no time spent writing it
    result = ihsim("hierarchy", "validate", "big.yaml")
    assert result.exit_code == 2
    one_error_line(result.stderr, "big.yaml: larger than 8 MB")


def test_a_duplicate_evidence_block_in_a_family_is_refused(ihsim: Invoke, tmp_path: Path) -> None:
    """The second `evidence:` used to win silently, dropping every rule of the first."""
    from conflicts.scenarios.family import FAMILY_DIR

    text = (FAMILY_DIR / "confidential-instructions.yaml").read_text(encoding="utf-8")
    first = text.index("\nevidence:") + 1
    (tmp_path / "f.yaml").write_text(text + "\n" + text[first:], encoding="utf-8")
    result = ihsim("families", "validate", "f.yaml")
    assert result.exit_code == 2
    line = text[:first].count("\n") + 1
    one_error_line(result.stderr, f"key 'evidence' is given twice (first on line {line})")


# --- Regular expressions: Python's re has no time bound, so nesting is refused on reading ---

BACKTRACKING = [r"(a+)+$", r"(x+x+)+y", r"(\w+\s?)*$", r"((ab)*)+c", r"(?:a*b?)*c"]


@pytest.mark.parametrize("pattern", BACKTRACKING)
def test_a_family_pattern_that_backtracks_without_end_is_refused(
    ihsim: Invoke, tmp_path: Path, pattern: str
) -> None:
    from conflicts.scenarios.family import FAMILY_DIR

    text = (FAMILY_DIR / "confidential-instructions.yaml").read_text(encoding="utf-8")
    hostile = text.replace("  denies: >-\n", f"  denies: >-\n    {pattern}|", 1)
    (tmp_path / "f.yaml").write_text(hostile, encoding="utf-8")
    result = ihsim("families", "validate", "f.yaml")
    assert result.exit_code == 2
    line = hostile[: hostile.index("  denies:")].count("\n") + 1
    one_error_line(result.stderr, f"f.yaml:{line}: patterns.denies: the pattern can backtrack")


def test_a_dilemma_line_carrying_such_a_pattern_is_refused(ihsim: Invoke, tmp_path: Path) -> None:
    """A dilemma file is input too: its evidence reaches `classify` unless refused here."""
    import orjson

    from conflicts.scenarios.dilemma import id_of_line

    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=1)
    body = orjson.loads(dilemmas.read_bytes())
    body["evidence"]["patterns"]["slow"] = r"(a+)+$"
    body["id"] = id_of_line(orjson.dumps(body).decode())
    dilemmas.write_bytes(orjson.dumps(body) + b"\n")
    result = ihsim("run", str(dilemmas), "-m", "sim/literal", "--db", "r.db")
    assert result.exit_code == 2
    one_error_line(result.stderr, "d.jsonl:1: evidence.patterns.slow: the pattern can backtrack")
    assert not (tmp_path / "r.db").exists()


def test_the_check_lets_every_built_in_pattern_through() -> None:
    """No false alarm on what ihsim ships: every family validates (their patterns included)."""
    from conflicts.scenarios.evidence import nested_repeat
    from conflicts.scenarios.family import family_names, load_family

    for name in family_names():
        family = load_family(name)
        assert all(nested_repeat(p) is None for p in family.patterns.values()), name
    assert nested_repeat(r"(?:\s++\w++)*|(a+)*+|a{1,3}(b{1,2}){1,2}") is None


# --- Imports: transcripts and Inspect logs from elsewhere ---

INSPECT_LOG = Path(__file__).parent / "data" / "inspect" / "confidential.eval"
FAMILY = "confidential-instructions"


def test_imported_epochs_out_of_range_are_refused_before_a_store_exists(
    ihsim: Invoke, tmp_path: Path
) -> None:
    """`"epoch": 2**70` was a traceback that left an empty store behind; -3 was accepted."""
    from conflicts.scenarios.dilemma import Dilemma

    case = Dilemma.model_validate_json(dilemma_file(tmp_path / "d.jsonl", sample=1).read_text())
    for epoch, expected in [(-3, "greater than or equal to 0"), (2**70, "less than 100000")]:
        record = {"model": "m", "dilemma": case.id, "epoch": epoch}
        record["messages"] = [m.model_dump() for m in case.messages]
        record["messages"].append({"role": "assistant", "content": "No."})
        (tmp_path / "t.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
        result = ihsim("import", "t.jsonl", "-f", FAMILY, "--db", "i.db")
        assert result.exit_code == 2
        one_error_line(result.stderr, f"t.jsonl:1: epoch: Input should be {expected}")
        assert not (tmp_path / "i.db").exists()


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ({"eval": "gpt", "samples": []}, "log.json: eval: not an Inspect log"),
        ({"samples": 3}, "log.json: samples: not an Inspect log: Input should be a valid list"),
        ({"samples": [[1]]}, "log.json:samples[0]: not an Inspect log"),
        ({"samples": [{"messages": [1, 2]}]}, "log.json:samples[0]: messages[0]: not an Inspect"),
        ({"samples": [{"messages": [{"content": "x"}]}]}, "messages[0].role: not an Inspect log"),
        ({"samples": [{"epoch": 2**70, "messages": []}]}, "samples[0]: epoch: not an Inspect"),
        ({"samples": [{"epoch": 0, "messages": []}]}, "samples[0]: epoch: not an Inspect log"),
        ([], "log.json: not an Inspect log (expected a JSON object)"),
    ],
)
def test_inspect_json_logs_of_the_wrong_shape(
    ihsim: Invoke, tmp_path: Path, log: object, expected: str
) -> None:
    (tmp_path / "log.json").write_text(json.dumps(log), encoding="utf-8")
    result = ihsim("import", "log.json", "-f", FAMILY, "--db", "i.db")
    assert result.exit_code == 2
    one_error_line(result.stderr, expected)
    assert not (tmp_path / "i.db").exists()


def _rewritten(source: Path, target: Path, change: dict[str, bytes | None]) -> None:
    """A copy of an archive with some members replaced (stored raw) or their bytes damaged."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change.get(info.filename, b"keep")
            if data == b"keep":
                new.writestr(info, _raw_member(source, info), compress_type=zipfile.ZIP_STORED)
                continue
            if data is not None:
                new.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)


def _raw_member(source: Path, info: zipfile.ZipInfo) -> bytes:
    from conflicts.run.inspect_logs import _zstd

    with source.open("rb") as raw:
        return _zstd(raw, info)


def test_a_damaged_eval_member_is_one_located_line(ihsim: Invoke, tmp_path: Path) -> None:
    data = bytearray(INSPECT_LOG.read_bytes())
    with zipfile.ZipFile(INSPECT_LOG) as archive:
        member = next(i for i in archive.infolist() if i.filename.startswith("samples/"))
    start = member.header_offset + 30 + len(member.filename) + len(member.extra) + 8
    data[start : start + 64] = bytes(64)  # zeros over the compressed stream
    (tmp_path / "bad.eval").write_bytes(bytes(data))
    result = ihsim("import", "bad.eval", "-f", FAMILY, "--db", "i.db")
    assert result.exit_code == 2
    one_error_line(result.stderr, f"bad.eval:{member.filename}: ")
    assert not (tmp_path / "i.db").exists()


def test_an_eval_member_that_decompresses_past_the_limit_is_not_decompressed(
    ihsim: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 33 KB archive once decompressed to 2.1 GB before failing; the limit is 128 MB, lowered
    here so the bomb is small."""
    from conflicts.run import inspect_logs

    monkeypatch.setattr(inspect_logs, "MAX_MEMBER", 1 << 20)
    with zipfile.ZipFile(INSPECT_LOG) as archive:
        name = next(n for n in archive.namelist() if n.startswith("samples/"))
    _rewritten(INSPECT_LOG, tmp_path / "bomb.eval", {name: b" " * (8 << 20)})
    assert (tmp_path / "bomb.eval").stat().st_size < 100_000
    result = ihsim("import", "bomb.eval", "-f", FAMILY, "--db", "i.db")
    assert result.exit_code == 2
    one_error_line(result.stderr, f"bomb.eval:{name}: 8,388,608 bytes uncompressed")


# --- Stores: read-only, unopenable, full ---


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Makes files read-only even for root (who ignores permissions): immutable, where the
    file system allows it."""
    locked: list[Path] = []

    def lock(path: Path) -> None:
        if os.geteuid() != 0:
            path.chmod(0o444)
            return
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("root, on a file system without immutable files")
        locked.append(path)

    yield lock
    for path in locked:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_store_is_one_line_for_every_command_that_writes(
    ihsim: Invoke, tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=2)
    assert ihsim("run", str(dilemmas), "-m", "sim/literal", "--db", "r.db", "-q").exit_code == 0
    for suffix in ("", "-wal", "-shm"):
        if (tmp_path / f"r.db{suffix}").exists():
            read_only(tmp_path / f"r.db{suffix}")
    before = (tmp_path / "r.db").read_bytes()
    for command in (["run", str(dilemmas), "-m", "sim/schemer", "-q"], ["classify"]):
        result = ihsim(*command, "--db", "r.db")
        assert result.exit_code == 2
        one_error_line(result.stderr, "r.db: read-only: ihsim cannot write to it")
    assert (tmp_path / "r.db").read_bytes() == before


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        ("/proc/ihsim.db", "/proc/ihsim.db: cannot open it: is its folder there, and writable?"),
        ("d.jsonl/ihsim.db", "d.jsonl/ihsim.db: cannot make its folder: "),
    ],
)
def test_a_store_that_cannot_be_made_is_one_line(
    ihsim: Invoke, tmp_path: Path, db: str, expected: str
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=2)
    result = ihsim("run", str(dilemmas), "-m", "sim/literal", "--db", db)
    assert result.exit_code == 2
    one_error_line(result.stderr, expected)


def test_a_disk_that_fills_during_a_run_keeps_what_was_committed_and_says_so(
    ihsim: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store may grow by a few pages only (SQLite's own limit, as a full disk answers)."""
    from conflicts.store.database import Store

    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=4)
    opened = Store.__init__

    def cramped(self: Store, path: Path) -> None:
        opened(self, path)
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages + 300}")

    monkeypatch.setattr(Store, "__init__", cramped)
    result = ihsim("run", str(dilemmas), "-m", "sim/literal", "-e", "400", "--db", "f.db")
    assert result.exit_code == 2
    found = re.search(
        r"f\.db: the disk is full; (run-\w+): (\d+) of 1600 transcripts", result.stderr
    )
    assert found is not None and len(result.stderr.strip().splitlines()) == 1, result.stderr
    monkeypatch.setattr(Store, "__init__", opened)
    with Store(tmp_path / "f.db") as store:
        kept = store.transcript_counts(found[1]).get("ok", 0)
    assert kept == int(found[2]) and 0 < kept < 1600
    again = ihsim("run", str(dilemmas), "-m", "sim/literal", "-e", "400", "--db", "f.db", "-q")
    assert again.exit_code == 0
    with Store(tmp_path / "f.db") as store:
        assert store.transcript_counts(found[1]) == {"ok": 1600}


# --- Output paths: -o writes a regular file, whole, with the usual permissions ---

OUTPUTS = {
    "generate": ["generate", "-f", "confidential-instructions", "-o"],
    "export": ["export", "-F", "csv", "-o"],
    "report": ["report", "-F", "md", "-o"],
    "label": ["label", "-o"],
}


@pytest.fixture
def classified(ihsim: Invoke, tmp_path: Path) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=2)
    assert ihsim("run", str(dilemmas), "-m", "sim/literal", "-q").exit_code == 0
    assert ihsim("classify", "-q").exit_code == 0


@pytest.mark.parametrize("command", OUTPUTS.values(), ids=OUTPUTS.keys())
def test_an_output_that_is_not_a_regular_file_is_left_alone(
    ihsim: Invoke, tmp_path: Path, classified: None, command: list[str]
) -> None:
    """A device node became a regular file under generate -o and export -o; a FIFO stands in
    for the device here (the same check, and harmless if it fails)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = ihsim(*command, str(fifo))
    assert result.exit_code == 2
    one_error_line(result.stderr, "pipe: not a regular file (a device, a pipe or a socket)")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pipe")] == []


def test_outputs_get_the_usual_permissions_and_keep_a_replaced_files(
    ihsim: Invoke, tmp_path: Path, classified: None
) -> None:
    """mkstemp made every generated file readable by its owner only."""
    before = os.umask(0o022)
    try:
        for command in ([c for c in OUTPUTS[name] if c != "-o"] for name in OUTPUTS):
            if command[0] == "label":
                continue
            path = tmp_path / f"{command[0]}.out"
            assert ihsim(*command, "-o", str(path)).exit_code == 0
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, command
            path.chmod(0o640)
            assert ihsim(*command, "-o", str(path)).exit_code == 0
            assert stat.S_IMODE(path.stat().st_mode) == 0o640, command
    finally:
        os.umask(before)


def test_partial_files_a_killed_command_left_are_removed_by_the_next(
    ihsim: Invoke, tmp_path: Path
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid names no process now
    stale = tmp_path / f".d.jsonl.{gone.pid}.partial"
    stale.write_bytes(b'{"half": ')
    alive = tmp_path / f".d.jsonl.{os.getpid()}x.partial"  # not a pid: not ours to judge
    alive.write_bytes(b"")
    result = ihsim("generate", "-f", "confidential-instructions", "-o", "d.jsonl")
    assert result.exit_code == 0
    assert not stale.exists() and alive.exists()


def test_generate_killed_while_writing_leaves_no_partial_after_the_next_run(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "conflicts", "generate", "-f", "all", "-o", "d.jsonl"]
    for _ in range(20):  # until the kill lands while the partial file is open
        victim = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.DEVNULL)
        while victim.poll() is None and not list(tmp_path.glob(".d.jsonl*")):
            time.sleep(0.001)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        if list(tmp_path.glob(".d.jsonl*")):
            break
    else:
        pytest.skip("the kill never landed while generate was writing")
    assert not (tmp_path / "d.jsonl").exists()
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl"]


# --- What reaches a terminal from a model, a server or a file is shown, never obeyed ---


@dataclass
class EscapingProvider:
    """Fails every call with an error a hostile server could write."""

    model: str = "escaping/x"

    async def turn(self, dilemma: object, conversation: object, epoch: int) -> object:
        raise ConnectionError("\x1b]52;c;cHduZWQ=\x07\x1b[2Jserver says \u202eno")

    def fingerprint(self) -> None:
        return None


@provider("escaping")
def _escaping(name: str, params: dict[str, object]) -> Provider:
    return EscapingProvider()  # type: ignore[return-value]


def test_a_servers_error_text_reaches_the_terminal_inert(ihsim: Invoke, tmp_path: Path) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=1)
    result = ihsim("run", str(dilemmas), "-m", "escaping/x", "--db", "e.db")
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert "\\x1b]52;c;cHduZWQ=\\x07\\x1b[2Jserver says \\u202eno" in result.stderr


def test_a_report_into_a_folder_that_cannot_be_written_is_one_line(
    ihsim: Invoke, tmp_path: Path, classified: None
) -> None:
    result = ihsim("report", "-F", "md", "-o", "/proc/ihsim/report.md")
    assert result.exit_code == 2
    one_error_line(result.stderr, "/proc/ihsim/report.md: cannot write: ")
