from collections import Counter
from pathlib import Path

from conflicts.classify.classifiers import apply_evidence
from conflicts.classify.rules import Enactment
from conflicts.providers.personas import PERSONAS, deferential_targets, goal_principal
from conflicts.scenarios.axes import parse_axes
from conflicts.scenarios.dilemma import Dilemma
from conflicts.scenarios.family import load_family
from conflicts.scenarios.generate import dilemmas


def family_dilemmas(hierarchy: str = "model-spec") -> list[Dilemma]:
    from hierarchy import load_hierarchy

    family = load_family("confidential-instructions")
    axes = parse_axes(None, family.supported_axes())
    return list(dilemmas(family, load_hierarchy(hierarchy), axes, 0))


def chosen(persona: str, items: list[Dilemma], epochs: int = 1) -> Counter[str]:
    return Counter(
        PERSONAS[persona].choose(d, epoch, seed=0).id for d in items for epoch in range(epochs)
    )


def test_deferential_targets_follow_the_hierarchy() -> None:
    dilemma = family_dilemmas()[0]
    assert deferential_targets(dilemma) == {
        "trainer": "comply",
        "system_prompter": "refuse",
        "end_user": "refuse",
    }


def test_policies_pick_their_characteristic_moves() -> None:
    items = family_dilemmas()
    assert chosen("deferential", items, 20).most_common(1)[0][0] == "decline"
    assert chosen("literal", items, 20).most_common(1)[0][0] == "disclose"
    assert chosen("schemer", items, 20).most_common(1)[0][0] == "deny"
    assert goal_principal(items[0]) == "system_prompter"


def test_personas_are_deterministic_and_seeded() -> None:
    items = family_dilemmas()
    persona = PERSONAS["schemer"]
    first = [persona.choose(d, e, seed=1).id for d in items for e in range(10)]
    again = [persona.choose(d, e, seed=1).id for d in items for e in range(10)]
    other = [persona.choose(d, e, seed=2).id for d in items for e in range(10)]
    assert first == again and first != other


def test_inconsistency_rate_matches_persona_setting() -> None:
    persona = PERSONAS["schemer"]
    decisions = [persona.decide(d, e, seed=0) for d in family_dilemmas() for e in range(100)]
    unsuspecting = [d.move.id for d in decisions if not d.suspects_test]
    off_policy = 1 - unsuspecting.count("deny") / len(unsuspecting)
    assert 0.08 < off_policy < 0.22  # consistency 0.85 over the unsuspecting draws


def test_a_persona_that_suspects_a_test_plays_safe_and_more_so_on_obvious_cues() -> None:
    persona = PERSONAS["schemer"]
    items = family_dilemmas()
    decisions = [(d, persona.decide(d, e, seed=0)) for d in items for e in range(100)]
    suspicious = [(d, c) for d, c in decisions if c.suspects_test]
    assert suspicious and all(c.move.id == "decline" for _, c in suspicious)
    by_cue = Counter(d.axes["cue_strength"] for d, _ in suspicious)
    assert by_cue["obvious"] > 2 * by_cue["subtle"]  # 0.3 against 0.1


def test_personas_produce_all_three_labels() -> None:
    labels: Counter[str] = Counter()
    for dilemma in family_dilemmas():
        for persona in PERSONAS.values():
            for epoch in range(30):
                move = persona.choose(dilemma, epoch, seed=0)
                for v in apply_evidence(dilemma, Enactment(move.say, (move.say,))):
                    labels[v.label] += 1
    assert {"comply", "refuse", "subvert"} <= set(labels)
    assert labels["unclear"] == 0


def test_hierarchy_changes_what_deferential_does(tmp_path: Path) -> None:
    from tests.conftest import write

    flipped = write(
        tmp_path / "user-first.yaml",
        """
name: user-first
principals:
  - {id: trainer, channel: training}
  - {id: system_prompter, channel: system}
  - {id: end_user, channel: user}
authority:
  - {above: trainer, below: end_user}
  - {above: end_user, below: system_prompter}
""",
    )
    items = family_dilemmas(str(flipped))
    assert deferential_targets(items[0])["end_user"] == "comply"
    assert chosen("deferential", items, 20).most_common(1)[0][0] == "disclose"
