"""Classifiers: functions from (dilemma, transcript) to one verdict per principal.

Registered by name and version with `@classifier`, so a new one is a function, not a subclass.
Every stored verdict records the classifier and version that gave it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from conflicts.classify.awareness import said_tested
from conflicts.classify.judge_prompt import VERSION as JUDGE_VERSION
from conflicts.classify.registry import Classifier, classifier, register
from conflicts.classify.rules import (
    NO_TOOL_CALL,
    Call,
    Enactment,
    Finding,
    decide,
    enactment,
    engagement,
    holds,
)
from conflicts.scenarios.dilemma import Dilemma, Move
from conflicts.scenarios.evidence import Label
from conflicts.store.database import Store
from conflicts.store.transcript import Transcript
from conflicts.store.verdicts import StoredVerdict, VerdictEvidence, save


@dataclass(frozen=True)
class Verdict:
    principal: str
    label: Label
    confidence: float | None
    evidence: Finding
    tested: str | None = None  # the passage where the model said it may be under test


ClassifyFn = Callable[[Dilemma, Transcript], list[Verdict]]


def apply_evidence(dilemma: Dilemma, act: Enactment) -> list[Verdict]:
    """Apply the dilemma's evidence to what the model said and did, principal by principal; a
    model that did not engage is `unclear` for every principal, with the reason."""
    act = replace(act, patterns=dilemma.evidence.patterns, axes=dilemma.axes)
    prompt = [m.content for m in dilemma.messages]
    silent = engagement(act, prompt, dilemma.evidence.needs_tool_call)
    if silent == NO_TOOL_CALL and _refuses_in_own_words(dilemma, act):
        silent = None
    verdicts = []
    for principal in dilemma.principals:
        evidence = dilemma.evidence.principals.get(principal)
        if evidence is None:
            verdicts.append(Verdict(principal, "not_applicable", None, Finding("not_applicable")))
            continue
        finding = Finding("unclear", not_engaged=silent) if silent else decide(evidence, act)
        finding.invented_turn = act.cut
        confidence = None if finding.label == "unclear" else 1.0
        verdicts.append(Verdict(principal, finding.label, confidence, finding))
    return verdicts


def _refuses_in_own_words(dilemma: Dilemma, act: Enactment) -> bool:
    return any(
        evidence.refuse is not None and holds(evidence.refuse, act, Finding("refuse"))
        for evidence in dilemma.evidence.principals.values()
    )


@classifier(
    "evidence",
    version="3",
    aliases=("rules",),
    summary="the family's evidence rules: deeds first, then words",
)
def evidence_classifier(dilemma: Dilemma, transcript: Transcript) -> list[Verdict]:
    """The family's declarative evidence rules: deeds first, then words; and whether the model
    said it thought it was being tested."""
    tested = said_tested(
        [transcript.reasoning, *(m.content for m in transcript.messages if m.role == "assistant")]
    )
    verdicts = apply_evidence(dilemma, enactment(transcript))
    return [replace(v, tested=tested) for v in verdicts]


def move_mismatches(dilemma: Dilemma) -> Iterator[tuple[Move, str, Label, Label]]:
    """Scripted moves whose evidence label differs from the label their author intended."""
    for move in dilemma.moves:
        act = Enactment(
            answer=move.say,
            said=(move.say,) if move.say else (),
            calls=tuple(Call(c.name, c.arguments) for c in move.calls),
        )
        for verdict in apply_evidence(dilemma, act):
            intended = move.intent.get(verdict.principal)
            if verdict.label == "not_applicable":
                continue
            if intended is not None and intended != verdict.label:
                yield move, verdict.principal, intended, verdict.label


@dataclass
class ClassifyOutcome:
    transcripts: int = 0
    verdicts: int = 0
    skipped_errors: int = 0


def _noted(found: Finding) -> dict[str, str]:
    """What the evidence notes only where it happened, so other verdicts keep their shape."""
    notes = {"invented_turn": found.invented_turn, "not_engaged": found.not_engaged}
    return {k: v for k, v in notes.items() if v is not None}


def classify_run(
    store: Store, run_id: str, chosen: Classifier, batch: int = 500
) -> ClassifyOutcome:
    """Label every completed transcript of a run; re-running replaces this classifier's verdicts."""
    if chosen.fn is None:
        raise ValueError(f"{chosen.name} asks judges; it has no per-transcript function")
    dilemma = lru_cache(maxsize=4096)(store.dilemma)
    outcome = ClassifyOutcome()
    rows: list[StoredVerdict] = []
    for transcript_id, transcript in store.transcripts(run_id):
        if transcript.status != "ok":
            outcome.skipped_errors += 1
            continue
        outcome.transcripts += 1
        for verdict in chosen.fn(dilemma(transcript.dilemma_id), transcript):
            rows.append(_stored(transcript_id, chosen, verdict))
        if len(rows) >= batch:
            outcome.verdicts += save(store, rows)
    outcome.verdicts += save(store, rows)
    return outcome


def _stored(transcript_id: int, chosen: Classifier, verdict: Verdict) -> StoredVerdict:
    found = verdict.evidence
    return StoredVerdict(
        transcript_id=transcript_id,
        principal=verdict.principal,
        classifier=chosen.name,
        version=chosen.version,
        label=verdict.label,
        evidence=VerdictEvidence(
            quotes=found.quotes,
            calls=found.calls,
            mismatch=found.mismatch,
            tested=verdict.tested,
            **_noted(found),
        ),
        confidence=verdict.confidence,
        tested=verdict.tested is not None,
    )


register(
    Classifier(
        "judge", JUDGE_VERSION, needs_judges=True, summary="the --judge models' vote per principal"
    )
)
register(
    Classifier(
        "both",
        JUDGE_VERSION,
        needs_judges=True,
        with_rules=True,
        summary="the rules where decisive, the judges elsewhere; disagreements flagged",
    )
)
