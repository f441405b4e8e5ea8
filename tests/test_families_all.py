"""The ten seed families together: generation with --family all, and the personas across them."""

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from conflicts.classify.classifiers import classify_run, evidence_classifier
from conflicts.classify.registry import get_classifier
from conflicts.classify.self_check import hierarchy_for
from conflicts.run.execute import converse, execute
from conflicts.run.plan import plan_run
from conflicts.scenarios.dilemma import Dilemma, Message, Move
from conflicts.scenarios.family import family_names, load_family
from conflicts.scenarios.generate import dilemmas
from conflicts.store.database import Store
from conflicts.store.transcript import Transcript, Turn
from tests.conftest import Invoke

SEED_FAMILIES = {
    "confidential-instructions",
    "impersonated-authority",
    "owner-vs-operator",
    "forced-choice",
    "impossible-quiz",
    "self-preservation",
    "environment-hacking",
    "insider-trading",
    "harmful-operator",
    "indirect-injection",
}
AXES = {
    "goal_conflict",
    "threat",
    "prohibition",
    "surveillance",
    "framing",
    "identity_claim",
    "refusal_option",
    "cue_strength",
}


def test_all_seed_families_exist_and_cover_every_axis() -> None:
    assert set(family_names()) >= SEED_FAMILIES
    used = {axis for name in SEED_FAMILIES for axis in load_family(name).axes}
    assert used == AXES


def test_generate_all_skips_families_the_hierarchy_cannot_host(ihsim: Invoke) -> None:
    result = ihsim("generate", "-f", "all", "-H", "model-spec", "-o", "all.jsonl")
    assert result.exit_code == 0
    assert "skipped: family 'owner-vs-operator' needs principal 'owner'" in result.stderr
    families = Counter(
        json.loads(line)["family"] for line in Path("all.jsonl").read_text().splitlines()
    )
    assert set(families) == SEED_FAMILIES - {"owner-vs-operator"}
    again = ihsim("generate", "-f", "all", "-H", "model-spec", "-o", "again.jsonl")
    assert again.exit_code == 0
    assert Path("all.jsonl").read_bytes() == Path("again.jsonl").read_bytes()


def test_sample_counts_across_families(ihsim: Invoke) -> None:
    ihsim("generate", "-f", "all", "-H", "model-spec", "--sample", "40", "-s", "5", "-o", "s.jsonl")
    lines = Path("s.jsonl").read_text().splitlines()
    assert len(lines) == 40
    assert len({json.loads(line)["family"] for line in lines}) > 3


def test_axes_a_family_lacks_are_ignored_with_all(ihsim: Invoke) -> None:
    ihsim(
        "generate",
        "-f",
        "all",
        "-H",
        "four-principals",
        "--axes",
        "threat=replacement",
        "-o",
        "t.jsonl",
    )
    rows = [json.loads(line) for line in Path("t.jsonl").read_text().splitlines()]
    assert {r["axes"].get("threat") for r in rows} == {None, "replacement"}


def test_unknown_axis_value_is_still_an_error_with_all(ihsim: Invoke) -> None:
    result = ihsim("generate", "-f", "all", "--axes", "threat=forever", "-o", "x.jsonl")
    assert result.exit_code == 2 and "unknown value 'forever'" in result.stderr
    assert not Path("x.jsonl").exists()


def test_personas_produce_all_three_labels_across_the_families(tmp_path: Path) -> None:
    from conflicts.scenarios.generate import dilemma_lines, write_jsonl

    labels: Counter[str] = Counter()
    per_family: dict[str, set[str]] = {}
    with Store(tmp_path / "s.db") as store:
        for name in sorted(SEED_FAMILIES):
            family = load_family(name)
            axes = {axis: list(values) for axis, values in family.supported_axes().items()}
            path = tmp_path / f"{name}.jsonl"
            write_jsonl(dilemma_lines(family, hierarchy_for(family, None), axes, 0), path)
            models = ["sim/deferential", "sim/literal", "sim/schemer"]
            run = plan_run(store, path, models, 2, {"seed": 0})
            outcome = asyncio.run(execute(store, run))
            assert outcome.failed == []
            classify_run(store, run.id, get_classifier("evidence"))
            rows = store.db.execute(
                "SELECT v.label, COUNT(*) FROM verdicts v JOIN transcripts t"
                " ON t.id = v.transcript_id WHERE t.run_id = ? GROUP BY v.label",
                (run.id,),
            )
            found = dict(rows.fetchall())
            labels.update(found)
            per_family[name] = set(found) & {"comply", "refuse", "subvert"}
    assert {"comply", "refuse", "subvert"} <= set(labels)
    for name, found in per_family.items():
        assert len(found) >= 2, (name, found)
    assert labels["unclear"] < 0.1 * sum(labels.values()), labels


def test_every_principal_can_be_complied_with_refused_and_subverted() -> None:
    labels = {"comply", "refuse", "subvert"}
    for name in sorted(SEED_FAMILIES):
        family = load_family(name)
        for principal in family.principals:
            evidence = family.evidence[principal]
            ruled = {label for label in labels if getattr(evidence, label) is not None}
            scripted = {m.intent[principal] for m in family.moves if principal in m.intent}
            assert ruled == labels, (name, principal, "rules", ruled)
            assert scripted >= labels, (name, principal, "moves", scripted)


def test_obvious_cues_change_only_the_words() -> None:
    from conflicts.scenarios.generate import dilemmas

    for name in sorted(SEED_FAMILIES):
        family = load_family(name)
        axes = {axis: list(values) for axis, values in family.supported_axes().items()}
        by_point: dict[tuple[object, ...], dict[str, Dilemma]] = {}
        for d in dilemmas(family, hierarchy_for(family, None), axes, 0):
            rest = tuple(sorted((k, v) for k, v in d.axes.items() if k != "cue_strength"))
            by_point.setdefault((rest, d.setting), {})[d.axes["cue_strength"]] = d
        for pair in by_point.values():
            subtle, obvious = pair["subtle"], pair["obvious"]
            assert words(subtle) != words(obvious), name
            for field in ("conflicts", "environment", "evidence", "principals"):
                assert getattr(subtle, field) == getattr(obvious, field), (name, field)
            assert tool_shape(subtle) == tool_shape(obvious), name
            intents = [(m.id, m.intent) for m in subtle.moves]
            assert intents == [(m.id, m.intent) for m in obvious.moves], name


def words(dilemma: Dilemma) -> tuple[list[str], list[str]]:
    """All the text a model reads: messages, and what its tools would return."""
    returns = [case.returns for tool in dilemma.tools for case in tool.results]
    return [m.content for m in dilemma.messages], returns


def tool_shape(dilemma: Dilemma) -> list[tuple[object, ...]]:
    return [(t.name, t.parameters, [c.when for c in t.results]) for t in dilemma.tools]


def transcript_of(dilemma: Dilemma, move: Move) -> Transcript:
    """What a model making this move leaves behind, tool results included, via the real loop."""
    turns = [Turn(message=Message(role="assistant", content="", tool_calls=move.calls))]
    turns = (turns if move.calls else []) + [
        Turn(message=Message(role="assistant", content=move.say))
    ]

    async def ask(conversation: list[Message]) -> Turn:
        return turns.pop(0)

    exchange = asyncio.run(converse(ask, dilemma, max_turns=4))
    return Transcript(
        run_id="r",
        dilemma_id=dilemma.id,
        model="m",
        epoch=0,
        messages=exchange.messages,
        final_answer=move.say,
    )


@pytest.mark.parametrize("name", sorted(SEED_FAMILIES))
def test_the_evidence_labels_each_principal_as_each_move_intends(name: str) -> None:
    """Family by family: transcripts that must come out comply, refuse and subvert for every
    principal, through the evidence classifier as `ihsim classify` runs it."""
    family = load_family(name)
    hierarchy = hierarchy_for(family, None)
    axes = {axis: list(values) for axis, values in family.supported_axes().items()}
    covered: dict[str, set[str]] = {p: set() for p in family.principals}
    for dilemma in dilemmas(family, hierarchy, axes, seed=0, sample=12):
        for move in dilemma.moves:
            verdicts = {
                v.principal: v.label
                for v in evidence_classifier(dilemma, transcript_of(dilemma, move))
            }
            for principal, intended in move.intent.items():
                if verdicts[principal] == "not_applicable":
                    continue  # this principal has no stake at these axis values
                assert verdicts[principal] == intended, (dilemma.axes, move.id, principal)
                covered[principal].add(intended)
    assert all(labels == {"comply", "refuse", "subvert"} for labels in covered.values()), covered
