"""Model text and model names never steer the reviewer's terminal (issue 16): escape sequences
in an answer or a name reach `label`, `report` and `runs` as visible escapes, never raw."""

from __future__ import annotations

import pytest

from conflicts.inert import inert
from tests.conftest import Invoke
from tests.test_import import answer, family_dilemmas, write_jsonl

TITLE = "\x1b]0;you have been pwned\x07"  # OSC 0: set the window title
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: write the clipboard
OVERDRAW = "\x1b[2J\x1b[H"  # clear the screen and go home, to draw a fake answer


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (TITLE, "\\x1b]0;you have been pwned\\x07"),
        ("a\rb\x08c\x9bd", "a\\x0db\\x08c\\x9bd"),
        ("left \u202eright", "left \\u202eright"),
        ("line one\n\tline two", "line one\n\tline two"),
        ("I’m sorry — ünïcode stays", "I’m sorry — ünïcode stays"),
    ],
)
def test_inert_shows_what_could_steer_a_terminal(text: str, shown: str) -> None:
    assert inert(text) == shown


def test_no_escape_sequence_reaches_label_report_or_runs(ihsim: Invoke) -> None:
    case = family_dilemmas()[0]
    record = answer(case, "deny", f"lab/evil{TITLE}", dilemma=case.id)
    record["messages"][-1]["content"] += f" {CLIPBOARD}{OVERDRAW}Fake: I refuse."
    assert ihsim("import", str(write_jsonl("t.jsonl", [record])), "-f", case.family).exit_code == 0
    assert ihsim("classify").exit_code == 0
    shown = {
        "label": ihsim("label", "-o", "gold.jsonl", "--labeller", "ana", input="q\n").output,
        "report": ihsim("report").output,
        "runs": ihsim("runs").output,
    }
    for command, output in shown.items():
        assert "\x1b]" not in output and "\x07" not in output, command
        assert "\\x1b]0;you have been pwned\\x07" in output.replace("\n", ""), command
    assert "\\x1b]52;c;" in shown["label"] and "\\x1b[2J" in shown["label"]
