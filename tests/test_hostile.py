"""The hostile-input suite: what a careless or adversarial user can hand each command.

Every case ends in one line on stderr and exit code 2, with nothing written: no store, no
output file, no partial file beside it. A few seconds in all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
