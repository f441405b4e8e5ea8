"""One option vocabulary: a short flag means one thing everywhere, a setting has one spelling,
the old spellings still work (hidden), and choices come from the registries."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import click

from conflicts.classify.registry import _REGISTRY, Classifier, register
from conflicts.cli import main
from conflicts.cli.options import ALIASES
from tests.conftest import Invoke
from tests.test_cli import all_commands, generate


def options() -> list[tuple[str, click.Option]]:
    """Every option of every command, with the command's name."""
    found = []
    for path in all_commands():
        command: click.Command = main
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        found += [(" ".join(path), p) for p in command.params if isinstance(p, click.Option)]
    return found


def test_each_short_flag_means_one_option_everywhere() -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    for _, option in options():
        if option.hidden:
            continue
        longs = [o for o in option.opts if o.startswith("--")]
        for short in (o for o in option.opts if not o.startswith("--")):
            meanings[short].update(longs)
    assert {s: m for s, m in meanings.items() if len(m) != 1} == {}
    assert meanings["-f"] == {"--family"} and meanings["-F"] == {"--format"}
    assert meanings["-c"] == {"--max-connections"}


def test_each_setting_has_one_spelling() -> None:
    """A parameter is spelled the same in every command that takes it."""
    spellings: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for _, option in options():
        if not option.hidden:
            spellings[str(option.name)].add(tuple(sorted(option.opts)))
    assert {n: s for n, s in spellings.items() if len(s) != 1} == {}


def test_hidden_options_are_the_documented_old_spellings() -> None:
    hidden = {o for _, option in options() if option.hidden for o in option.opts}
    assert hidden == set(ALIASES)


def test_old_spellings_still_work(ihsim: Invoke) -> None:
    generate(ihsim)
    assert ihsim("run", "d.jsonl", "-m", "sim/literal", "-q").exit_code == 0
    assert ihsim("classify", "--connections", "2").exit_code == 0
    old, new = ihsim("report", "-f", "json"), ihsim("report", "-F", "json")
    assert old.exit_code == new.exit_code == 0
    assert json.loads(old.stdout) == json.loads(new.stdout)
    exported = ihsim("export", "-f", "csv")
    assert exported.exit_code == 0 and exported.stdout.startswith("run_id,transcript_id,")


def test_classifier_choices_come_from_the_registry(ihsim: Invoke) -> None:
    shown = ihsim("classify", "--help").stdout
    assert "[evidence|rules|judge|both]" in shown
    register(Classifier("lab-words", "1", fn=lambda d, t: [], summary="a lab's own"))
    try:
        shown = " ".join(ihsim("classify", "--help").stdout.split())
        assert "lab-words: a lab's own" in shown
        generate(ihsim)
        ihsim("run", "d.jsonl", "-m", "sim/literal", "-q")
        assert (
            "0 verdicts on 12 transcripts (lab-words v1)"
            in ihsim("classify", "--classifier", "lab-words").stderr
        )
    finally:
        del _REGISTRY.by_name["lab-words"]
    refused = ihsim("classify", "--classifier", "lab-words")
    assert refused.exit_code == 2 and "'lab-words' is not one of" in refused.stderr


def test_reading_commands_take_stored_names_and_one_judge(ihsim: Invoke, tmp_path: Path) -> None:
    assert "judge:MODEL" in ihsim("report", "--help").stdout
    generate(ihsim)
    ihsim("run", "d.jsonl", "-m", "sim/literal", "-q")
    missing = ihsim("report", "--classifier", "judge:openai/gpt-4.1")
    assert missing.exit_code == 2 and "no verdicts from 'judge:openai/gpt-4.1'" in missing.stderr
