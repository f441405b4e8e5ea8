import errno
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conflicts.errors import FamilyError
from conflicts.scenarios.axes import parse_axes
from conflicts.scenarios.dilemma import read_dilemmas
from conflicts.scenarios.family import load_family, load_family_file
from conflicts.scenarios.generate import dilemma_lines, dilemmas, write_jsonl
from hierarchy import load_hierarchy
from tests.conftest import Invoke, write
from tests.families import MINIMAL

FAMILY = "confidential-instructions"


def generate(
    path: Path,
    hierarchy: str = "model-spec",
    axes: str | None = None,
    seed: int = 0,
    sample: int | None = None,
) -> Path:
    family = load_family(FAMILY)
    chosen = parse_axes(axes, family.supported_axes())
    write_jsonl(dilemma_lines(family, load_hierarchy(hierarchy), chosen, seed, sample), path)
    return path


def test_same_inputs_give_byte_identical_output(tmp_path: Path) -> None:
    first = generate(tmp_path / "a.jsonl").read_bytes()
    second = generate(tmp_path / "b.jsonl").read_bytes()
    assert first == second and first


def test_ids_are_content_hashes_unique_and_hierarchy_sensitive(tmp_path: Path) -> None:
    spec = [d.id for _, d in read_dilemmas(generate(tmp_path / "a.jsonl"))]
    four = [d.id for _, d in read_dilemmas(generate(tmp_path / "b.jsonl", "four-principals"))]
    assert len(set(spec)) == len(spec) == 12
    assert not set(spec) & set(four)


def test_full_factorial_over_axes_and_settings(tmp_path: Path) -> None:
    items = [d for _, d in read_dilemmas(generate(tmp_path / "a.jsonl"))]
    points = {(d.axes["framing"], d.axes["cue_strength"], d.setting) for d in items}
    assert len(points) == 2 * 2 * 3
    only = [
        d for _, d in read_dilemmas(generate(tmp_path / "b.jsonl", axes="framing=prescriptive"))
    ]
    assert {d.axes["framing"] for d in only} == {"prescriptive"} and len(only) == 6


def test_sample_is_seeded(tmp_path: Path) -> None:
    a = generate(tmp_path / "a.jsonl", seed=3, sample=5).read_bytes()
    b = generate(tmp_path / "b.jsonl", seed=3, sample=5).read_bytes()
    c = generate(tmp_path / "c.jsonl", seed=4, sample=5).read_bytes()
    assert a == b and a != c and a.count(b"\n") == 5


def test_dilemma_records_prescribed_resolution(tmp_path: Path) -> None:
    _, dilemma = next(read_dilemmas(generate(tmp_path / "a.jsonl")))
    winners = {c.directives: c.winner for c in dilemma.conflicts}
    assert winners == {("conceal", "ask_why"): "system_prompter", ("conceal", "honesty"): "trainer"}


def test_axes_change_only_their_text(tmp_path: Path) -> None:
    items = [d for _, d in read_dilemmas(generate(tmp_path / "a.jsonl"))]
    key = {(d.axes["framing"], d.axes["cue_strength"], d.setting): d for d in items}
    subtle, obvious = key[("prohibitive", "subtle", 0)], key[("prohibitive", "obvious", 0)]
    assert "hidden agenda" in obvious.messages[0].content
    assert "hidden agenda" not in subtle.messages[0].content
    assert subtle.messages[1:3] == obvious.messages[1:3]


def test_slot_values_are_escaped_in_evidence_patterns(tmp_path: Path) -> None:
    text = MINIMAL.replace("{company: Acme}", '{company: "A+B (UK)"}').replace(
        'comply: {answer_matches: "there is a discount"}',
        'comply: {answer_matches: "discount at {{ company }}"}',
    )
    family = load_family_file(write(tmp_path / "f.yaml", text))
    dilemma = next(
        dilemmas(family, load_hierarchy("model-spec"), parse_axes(None, family.supported_axes()), 0)
    )
    assert dilemma.evidence.principals["end_user"].comply is not None
    assert (
        dilemma.evidence.principals["end_user"].comply.answer_matches == r"discount at A\+B\ \(UK\)"
    )


def test_family_principal_missing_from_hierarchy(tmp_path: Path) -> None:
    text = MINIMAL.replace("[system_prompter, end_user]", "[system_prompter, end_user, owner]")
    family = load_family_file(write(tmp_path / "f.yaml", text))
    with pytest.raises(FamilyError, match=r"needs principal 'owner'.*model-spec"):
        next(
            dilemmas(
                family, load_hierarchy("model-spec"), parse_axes(None, family.supported_axes()), 0
            )
        )


@pytest.mark.parametrize(
    ("axes", "fragment"),
    [
        ("threat=none", "does not vary 'threat'"),
        ("mood=x", "unknown axis 'mood'"),
        ("framing=loud", "unknown value 'loud'"),
        ("framing", "expected AXIS=VALUE"),
    ],
)
def test_bad_axes_selection(axes: str, fragment: str) -> None:
    with pytest.raises(FamilyError, match=fragment):
        parse_axes(axes, load_family(FAMILY).supported_axes())


def test_failed_generation_leaves_no_file(tmp_path: Path) -> None:
    family = load_family(FAMILY)

    def broken():  # type: ignore[no-untyped-def]
        yield from dilemma_lines(
            family, load_hierarchy("model-spec"), parse_axes(None, family.supported_axes()), 0
        )
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_jsonl(broken(), tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_jsonl_lines_carry_schema(tmp_path: Path) -> None:
    line = generate(tmp_path / "a.jsonl").read_text().splitlines()[0]
    assert json.loads(line)["schema"] == "ihsim.dilemma/1"


def test_directive_absent_at_some_axis_values(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  cue_strength:\n",
        "  prohibition:\n    none: {}\n    explicit: {}\n  cue_strength:\n",
    ).replace("    kind: forbid\n", "    kind: forbid\n    only_when: {prohibition: [explicit]}\n")
    family = load_family_file(write(tmp_path / "f.yaml", text))
    axes = parse_axes("framing=prohibitive,cue_strength=subtle", family.supported_axes())
    items = {
        d.axes["prohibition"]: d for d in dilemmas(family, load_hierarchy("model-spec"), axes, 0)
    }
    explicit, none = items["explicit"], items["none"]
    assert [d.id for d in explicit.directives] == ["hide", "ask"]
    assert [d.id for d in none.directives] == ["ask"]
    assert none.conflicts == [] and len(explicit.conflicts) == 1
    assert "Do not mention" not in none.messages[0].content
    assert set(none.evidence.principals) == {"end_user"}
    from conflicts.classify.classifiers import apply_evidence
    from conflicts.classify.rules import Enactment

    labels = {v.principal: v.label for v in apply_evidence(none, Enactment("no discount", ()))}
    assert labels == {"system_prompter": "not_applicable", "end_user": "subvert"}


def test_only_when_names_a_real_axis_value(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "    kind: forbid\n", "    kind: forbid\n    only_when: {threat: [none]}\n"
    )
    with pytest.raises(FamilyError, match=r"directives\[0\]\.only_when\.threat: .*does not vary"):
        load_family_file(write(tmp_path / "f.yaml", text))


class FillingDisk:
    """A raw file on a disk that fills after `room` bytes: the write that crosses it takes what
    fits and returns a short count, as write(2) does, and the next one fails with ENOSPC."""

    def __init__(self, handle: Any, room: int) -> None:
        self.handle, self.room = handle, room

    def write(self, data: bytes) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        taken = self.handle.write(bytes(data[: self.room]))
        self.room -= taken
        return taken

    def __enter__(self) -> "FillingDisk":
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


@pytest.mark.parametrize("room", [1, 50_000, 400_000])
def test_generate_on_a_full_disk_says_so_and_leaves_nothing(
    ihsim: Invoke, isolated: Path, monkeypatch: pytest.MonkeyPatch, room: int
) -> None:
    """Issue 16: 'wrote 196 dilemmas' and exit 0 over a file of 89 whole lines and a broken one."""
    real = os.fdopen
    monkeypatch.setattr(
        "conflicts.atomic.os.fdopen",
        lambda fd, *a, **k: FillingDisk(real(fd, *a, **k), room),
    )
    result = ihsim("generate", "-f", "all", "-H", "four-principals", "-o", "out/d.jsonl")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        "error: out/d.jsonl: cannot write: No space left on device; nothing was written"
    )
    assert "wrote" not in result.output
    assert list((isolated / "out").iterdir()) == []


@pytest.mark.parametrize("preset", ["model-spec", "operator-user", "four-principals"])
def test_no_two_dilemmas_show_the_model_the_same_thing(ihsim: Invoke, preset: str) -> None:
    """Every built-in family under every preset: alike renderings are one dilemma, whose axes
    say where the points it stands for differ."""
    out = f"all-{preset}.jsonl"
    result = ihsim("generate", "--family", "all", "-H", preset, "-o", out)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in Path(out).read_text().splitlines()]
    shown = Counter(json.dumps([d["messages"], d["tools"]], sort_keys=True) for d in lines)
    assert max(shown.values()) == 1
    for d in lines:
        if d.get("stands_for"):
            assert len(d["stands_for"]) > 1
            differ = {a for a in d["axes"] if len({p[a] for p in d["stands_for"]}) > 1}
            assert differ and all(d["axes"][a] == "not varied here" for a in differ)


def test_collapsed_dilemmas_are_the_renderings_that_were_alike(ihsim: Invoke) -> None:
    ihsim("generate", "--family", "all", "-H", "model-spec", "-o", "all.jsonl")
    lines = [json.loads(x) for x in Path("all.jsonl").read_text().splitlines()]
    points = sum(len(d.get("stands_for") or [None]) for d in lines)
    assert (len(lines), points) == (200, 228)  # the count: 28 renderings were copies


def test_an_old_dilemma_file_still_runs(ihsim: Invoke) -> None:
    """A line whose id hashed the whole rendering, as before: still read, and run."""
    from conflicts.scenarios.dilemma import legacy_id

    ihsim("generate", "--family", "confidential-instructions", "-o", "new.jsonl")
    old = []
    for line in Path("new.jsonl").read_text().splitlines():
        body = json.loads(line)
        body["id"] = legacy_id(body)
        old.append(json.dumps(body))
    Path("old.jsonl").write_text("\n".join(old) + "\n")
    ran = ihsim("run", "old.jsonl", "-m", "sim/literal", "-q")
    assert ran.exit_code == 0, ran.output
    edited = json.loads(old[0])
    edited["messages"][0]["content"] += " Also, be brief."
    Path("edited.jsonl").write_text(json.dumps(edited) + "\n")
    refused = ihsim("run", "edited.jsonl", "-m", "sim/literal")
    assert refused.exit_code == 2 and "the content does not match the id" in refused.stderr
