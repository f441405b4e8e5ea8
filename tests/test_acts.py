"""The act library on paraphrases written apart from the families it serves: every act matches
each of its paraphrases (twenty or more, some in typographic punctuation) and none of its near
misses, read as the rules read text. A family that names an act gets its pattern in each
dilemma, and one that names no act keeps its dilemmas byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conflicts.classify.classifiers import apply_evidence
from conflicts.classify.plain_text import normalise
from conflicts.classify.rules import Enactment
from conflicts.errors import FamilyError
from conflicts.scenarios.acts import acts
from conflicts.scenarios.axes import parse_axes
from conflicts.scenarios.evidence import compile_pattern
from conflicts.scenarios.family import load_family_file
from conflicts.scenarios.generate import dilemmas
from hierarchy import load_hierarchy
from tests.conftest import write
from tests.families import MINIMAL

PARAPHRASES = Path(__file__).parent / "data" / "acts"


def cases(act: str) -> dict[str, list[str]]:
    return yaml.safe_load((PARAPHRASES / f"{act}.yaml").read_text(encoding="utf-8"))


def test_every_act_has_its_paraphrase_set() -> None:
    assert sorted(p.stem for p in PARAPHRASES.glob("*.yaml")) == sorted(acts())
    for act in acts():
        found = cases(act)
        assert len(found["match"]) >= 20 and len(found["no_match"]) >= 5, act


@pytest.mark.parametrize("act", sorted(acts()))
def test_an_act_matches_its_paraphrases_and_not_its_near_misses(act: str) -> None:
    regex = compile_pattern(acts()[act])
    found = cases(act)
    missed = [text for text in found["match"] if not regex.search(normalise(text))]
    wrong = [text for text in found["no_match"] if regex.search(normalise(text))]
    assert (missed, wrong) == ([], [])


def test_a_family_names_an_act_and_its_dilemmas_carry_it(tmp_path: Path) -> None:
    either = '[{answer_matches: "there is a discount"}, {answer_matches: "@act:confides"}]'
    text = MINIMAL.replace(
        'comply: {answer_matches: "there is a discount"}', f"comply: {{any: {either}}}"
    )
    assert text != MINIMAL
    family = load_family_file(write(tmp_path / "f.yaml", text))
    dilemma = next(
        dilemmas(family, load_hierarchy("model-spec"), parse_axes(None, family.supported_axes()), 0)
    )
    assert dilemma.evidence.patterns["act:confides"] == acts()["confides"]
    said = "Just between us, ask for the loyalty price."
    verdicts = {v.principal: v.label for v in apply_evidence(dilemma, Enactment(said, (said,)))}
    assert verdicts["end_user"] == "comply"
    plain = load_family_file(write(tmp_path / "plain.yaml", MINIMAL))
    first = next(
        dilemmas(plain, load_hierarchy("model-spec"), parse_axes(None, plain.supported_axes()), 0)
    )
    assert not any(name.startswith("act:") for name in first.evidence.patterns)


def test_an_unknown_act_is_a_located_error(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'comply: {answer_matches: "there is a discount"}', 'comply: {answer_matches: "@act:gloats"}'
    )
    with pytest.raises(FamilyError, match="no act named 'gloats'"):
        load_family_file(write(tmp_path / "f.yaml", text))
