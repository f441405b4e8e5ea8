from pathlib import Path

import pytest

from conflicts.classify.self_check import check_family
from conflicts.errors import FamilyError
from conflicts.scenarios.family import family_names, load_family, load_family_file
from tests.conftest import Invoke, write
from tests.families import MINIMAL


def test_builtin_families_load_and_their_moves_are_labelled_as_intended() -> None:
    assert "confidential-instructions" in family_names()
    for name in family_names():
        family = load_family(name)
        assert check_family(family, None, name)[0] > 0


def test_minimal_family_is_valid(tmp_path: Path) -> None:
    family = load_family_file(write(tmp_path / "tiny.yaml", MINIMAL))
    assert check_family(family, "model-spec", "tiny.yaml") == (4, 0)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


BAD = [
    # (name, old, new, field in message, fragment of message)
    (
        "unknown principal",
        "principal: end_user\n    kind",
        "principal: janitor\n    kind",
        "directives[1].principal",
        "unknown principal 'janitor'",
    ),
    ("unknown axis", "  cue_strength:\n", "  vibes:\n", "axes.vibes", "unknown axis 'vibes'"),
    (
        "unknown axis value",
        "    obvious: {tone",
        "    loud: {tone",
        "axes.cue_strength.loud",
        "unknown value 'loud'",
    ),
    (
        "evidence names missing tool",
        "subvert: {called: lookup}",
        "subvert: {called: delete_all}",
        "evidence.system_prompter.subvert",
        "tool 'delete_all'",
    ),
    (
        "template slot with no value",
        "You sell for {{ company }}.",
        "You sell for {{ shop }}.",
        "messages[0].content",
        "{{ shop }} has no value",
    ),
    (
        "duplicate directive id",
        "  - id: ask\n",
        "  - id: hide\n",
        "directives[1].id",
        "duplicate directive id 'hide'",
    ),
    (
        "conflict with unknown directive",
        "between: [hide, ask]",
        "between: [hide, nope]",
        "conflicts[0].between[1]",
        "unknown directive 'nope'",
    ),
    (
        "bad regex",
        'comply: {answer_matches: "there is a discount"}',
        'comply: {answer_matches: "there is (a discount"}',
        "evidence.end_user.comply.answer_matches",
        "bad regular expression",
    ),
    (
        "rule with two keys",
        'refuse: {answer_matches: "can\'t discuss"}',
        'refuse: {answer_matches: "x", said: "y"}',
        "evidence.end_user.refuse",
        "exactly one of",
    ),
    ("unknown field", "title: Tiny\n", "title: Tiny\ncolour: blue\n", "colour", "unknown field"),
    (
        "axis values fill different slots",
        'subtle: {tone: ""}',
        'subtle: {mood: ""}',
        "axes.cue_strength.obvious",
        "same slots",
    ),
    (
        "duplicate move id",
        "  - id: decline\n",
        "  - id: tell\n",
        "moves[2].id",
        "duplicate move id 'tell'",
    ),
    (
        "move intent for unknown principal",
        "intent: {system_prompter: refuse, end_user: refuse}",
        "intent: {ghost: refuse}",
        "moves[2].intent.ghost",
        "unknown principal 'ghost'",
    ),
    ("wrong type", "version: 1", "version: one", "version", "valid integer"),
    (
        "unknown pattern name",
        'refuse: {answer_matches: "can\'t discuss"}',
        'refuse: {answer_matches: "@nope"}',
        "evidence.end_user.refuse.answer_matches",
        "no pattern named 'nope'",
    ),
    (
        "bad named pattern",
        "evidence:\n",
        'patterns:\n  broken: "a[b"\nevidence:\n',
        "patterns.broken",
        "bad regular expression",
    ),
    (
        "'at' names an axis the family lacks",
        'comply: {answer_matches: "there is a discount"}',
        'comply: {all: [{at: {threat: [none]}}, {answer_matches: "x"}]}',
        "evidence.end_user.comply.at.threat",
        "does not vary 'threat'",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "field", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_family_files_name_file_line_and_field(
    tmp_path: Path, name: str, old: str, new: str, field: str, fragment: str
) -> None:
    assert old in MINIMAL, name
    text = MINIMAL.replace(old, new, 1)
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(FamilyError) as caught:
        load_family_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:"), message
    assert f": {field}: " in message, message
    assert fragment in message, message
    assert "\n" not in message


def test_error_line_points_at_the_offending_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("principal: end_user\n    kind", "principal: janitor\n    kind")
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(FamilyError) as caught:
        load_family_file(path)
    assert caught.value.line == line_of(text, "principal: janitor")


def test_move_whose_evidence_disagrees_with_its_intent_is_caught(tmp_path: Path) -> None:
    text = MINIMAL.replace('say: "Yes, there is a discount."', 'say: "Sorry, no discount."')
    family = load_family_file(write(tmp_path / "f.yaml", text))
    with pytest.raises(
        FamilyError,
        match="move 'tell' is meant to refuse system_prompter but the evidence says comply",
    ):
        check_family(family, "model-spec", "f.yaml")


def test_named_patterns_are_shared_by_rules(tmp_path: Path) -> None:
    text = MINIMAL.replace("evidence:\n", 'patterns:\n  tells: "there is a discount"\nevidence:\n')
    text = text.replace(
        'comply: {answer_matches: "there is a discount"}', 'comply: {answer_matches: "@tells"}'
    )
    family = load_family_file(write(tmp_path / "f.yaml", text))
    assert check_family(family, "model-spec", "f.yaml") == (4, 0)


def test_unknown_family_name() -> None:
    with pytest.raises(FamilyError, match=r"unknown family 'nope'.*confidential-instructions"):
        load_family("nope")


@pytest.mark.parametrize(("name", "old", "new", "field", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_family_files_through_the_cli(
    ihsim: Invoke, tmp_path: Path, name: str, old: str, new: str, field: str, fragment: str
) -> None:
    path = write(tmp_path / "bad.yaml", MINIMAL.replace(old, new, 1))
    for command in (
        ["families", "validate", str(path)],
        ["generate", "-f", str(path), "-o", str(tmp_path / "out.jsonl")],
    ):
        result = ihsim(*command)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}:"), result.stderr
        assert f": {field}: " in lines[0] and fragment in lines[0]
        assert not (tmp_path / "out.jsonl").exists()
