"""Every test runs in its own folder with its own database: nothing touches results/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conflicts.cli import main


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IHSIM_DB", str(tmp_path / "ihsim.db"))
    return tmp_path


Invoke = Callable[..., Result]


@pytest.fixture
def ihsim() -> Invoke:
    """Run the CLI in-process: `ihsim("run", "d.jsonl", "-m", "sim/schemer")`."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(
            main, list(args), input=input, catch_exceptions=False, prog_name="ihsim"
        )

    return invoke


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# Figures a test measures and the run reports at its end (the refusal detector's
# leave-one-file-out agreement), shown however quiet the run is.
FIGURES = pytest.StashKey[list[str]]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for line in config.stash.get(FIGURES, []):
        terminalreporter.write_line(line)
