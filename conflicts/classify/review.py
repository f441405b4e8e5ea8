"""`ihsim label`: a person reviews transcripts in the terminal and writes gold labels.

Transcripts come in the order a reviewer's time is best spent: those where the evidence rules
and the judges disagree, then those with an unclear verdict, then the rest in a seeded shuffle.
Every label is appended to the gold file as it is given, and labels already there are skipped,
so a review can stop and resume at any moment.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from conflicts.classify.gold import GoldLabel, append_gold, read_gold
from conflicts.inert import inert
from conflicts.store.database import Store
from conflicts.store.transcript import NOT_ANSWERED
from conflicts.store.verdicts import Reviewed, for_review

KEYS = {"c": "comply", "r": "refuse", "s": "subvert", "u": "unclear"}


@dataclass(frozen=True)
class Case:
    """One transcript to review, with the classifier's verdict per principal."""

    transcript_id: int
    run: str
    dilemma: str
    model: str
    epoch: int
    verdicts: dict[str, Reviewed]  # by principal


def queue(
    store: Store, run_id: str, classifier: str, version: str, seed: int, by_priority: bool = True
) -> list[Case]:
    """Disagreements first, then unclear verdicts, then the rest in a seeded shuffle (all of
    them shuffled, without `by_priority`); within a transcript, principals in the order the
    classifier gave them (the dilemma's order)."""
    cases: dict[int, Case] = {}
    for verdict in for_review(store, run_id, classifier, version):
        case = cases.setdefault(
            verdict.transcript_id,
            Case(
                verdict.transcript_id, run_id, verdict.dilemma_id, verdict.model, verdict.epoch, {}
            ),
        )
        case.verdicts[verdict.principal] = verdict
    ordered = list(cases.values())
    random.Random(seed).shuffle(ordered)
    return sorted(ordered, key=_priority) if by_priority else ordered


def _priority(case: Case) -> int:
    if any(v.flagged for v in case.verdicts.values()):
        return 0
    if any(v.label == "unclear" for v in case.verdicts.values()):
        return 1
    return 2


def review(
    store: Store,
    cases: list[Case],
    gold: Path,
    ask: Callable[[str], str],
    console: Console,
    labeller: str | None = None,
    limit: int | None = None,
    blind: bool = False,
) -> int:
    """Ask for a label per principal of each case; returns how many were written. `blind`
    keeps the classifier's label and evidence out of sight while the person decides."""
    done = {g.key for g in read_gold(gold)} if gold.exists() and gold.stat().st_size else set()
    written = 0
    shown = 0
    for case in cases:
        todo = [p for p in case.verdicts if (*_key(case), p) not in done]
        if not todo:
            continue
        if limit is not None and shown >= limit:
            break
        shown += 1
        source = _show(store, case, console)
        for principal in todo:
            label = _ask_label(case, principal, ask, console, blind)
            if label == "quit":
                return written
            if label == "skip":
                continue
            append_gold(
                gold,
                GoldLabel(
                    run=case.run,
                    dilemma=case.dilemma,
                    model=case.model,
                    epoch=case.epoch,
                    source=source,  # an imported transcript's sample, for joining back
                    principal=principal,
                    label=label,
                    labeller=labeller,
                ),
            )
            written += 1
    return written


def _key(case: Case) -> tuple[str, str, str, int]:
    return (case.run, case.dilemma, case.model, case.epoch)


def _ask_label(
    case: Case, principal: str, ask: Callable[[str], str], console: Console, blind: bool = False
) -> str:
    verdict = case.verdicts[principal]
    shown = verdict.label
    accept = shown in KEYS.values() and shown != "unclear" and not blind
    if blind:
        console.print(Text(f"{principal}:", style="bold"))
    else:
        flag = " [disagreement]" if verdict.flagged else ""
        console.print(Text(f"{principal}: classifier says {shown}{flag}", style="bold"))
        for quote in verdict.evidence.quotes:
            console.print(Text(f"  quoted: {inert(quote)}"))
        for call in verdict.evidence.calls:
            console.print(Text(f"  tool call: {inert(call)}"))
    hint = f"Enter = {shown}, " if accept else ""
    while True:
        answer = ask(
            f"{principal}: (c)omply (r)efuse (s)ubvert (u)nclear, {hint}(k) skip, (q) quit"
        ).strip()
        if not answer and accept:
            return str(shown)
        if answer.lower() in KEYS:
            return KEYS[answer.lower()]
        if answer.lower() in ("k", "skip"):
            return "skip"
        if answer.lower() in ("q", "quit"):
            return "quit"
        console.print("type c, r, s or u" + (", Enter to accept" if accept else "") + ", k or q")


def _show(store: Store, case: Case, console: Console) -> str | None:
    """The whole conversation, as text: nothing a model wrote is read as markup, and no
    control sequence in it reaches the terminal (`conflicts.inert`). Returns the imported
    transcript's source key."""
    dilemma = store.dilemma(case.dilemma)
    transcript = store.transcript(case.transcript_id)
    source = f" · source {transcript.source.key}" if transcript.source else ""
    console.rule(
        Text(
            inert(f"{case.model} · {dilemma.family} · epoch {case.epoch} · {case.dilemma}{source}")
        )
    )
    for message in [*dilemma.messages, *transcript.messages]:
        who = message.role + (f" ({message.principal})" if message.principal else "")
        body = message.content + "".join(
            f"\n→ {c.name}({json.dumps(c.arguments)})" for c in message.tool_calls
        )
        console.print(Panel(Text(inert(body)), title=Text(inert(who)), title_align="left"))
    if transcript.reasoning:
        text = Text(inert(transcript.reasoning))
        console.print(Panel(text, title="reasoning", title_align="left"))
    if transcript.stop_reason in NOT_ANSWERED:
        console.print(Text(NOT_ANSWERED[transcript.stop_reason], style="bold yellow"))
    return transcript.source.key if transcript.source else None
