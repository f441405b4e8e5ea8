"""`ihsim smoke`: what a few dilemmas say about a model before the big run.

One dilemma of each family goes to each model; what came back is read from the store: requests
that failed and why, latency, tokens, whether tools were called where the task needs them, empty
answers, answers cut off, invented turns, reasoning returned, and the share of verdicts the
evidence could not decide. A check that fails (every request failed, no tool call in any agentic
dilemma, most answers empty) means the big run would measure the setup, not the model.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conflicts.store.database import Store
from conflicts.store.verdicts import smoke_notes


@dataclass
class ModelCheck:
    """One model's smoke run, and the problems it shows."""

    model: str
    transcripts: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # ms, finished transcripts
    output_tokens: list[int] = field(default_factory=list)
    agentic: int = 0  # finished transcripts of dilemmas that offer tools
    called_tool: int = 0
    empty: int = 0
    cut_off: int = 0
    with_reasoning: int = 0
    cost: float = 0.0
    invented_turns: int = 0
    verdicts: int = 0
    unclear: int = 0

    @property
    def finished(self) -> int:
        return self.transcripts - self.failed

    def problems(self) -> list[str]:
        """What would make a full run meaningless, in words that say where to look."""
        found = []
        if self.transcripts and self.failed == self.transcripts:
            found.append(f"every request failed ({self.errors.most_common(1)[0][0]})")
        if self.agentic and not self.called_tool:
            found.append(
                f"no tool call in any of {self.agentic} agentic dilemmas: the tools may not "
                "reach the model (see the README's 'Running open models locally')"
            )
        if self.finished and self.empty * 2 > self.finished:
            found.append(f"most answers are empty ({self.empty} of {self.finished})")
        return found

    @property
    def median_latency_ms(self) -> float | None:
        return round(statistics.median(self.latencies), 1) if self.latencies else None

    @property
    def mean_output_tokens(self) -> float | None:
        return round(statistics.mean(self.output_tokens), 1) if self.output_tokens else None

    def as_dict(self, planned: int | None, connections: int) -> dict[str, Any]:
        """The check for `smoke --json`, with the estimate for `planned` transcripts."""
        cost, seconds = self.estimate(planned, connections) if planned else (None, None)
        return {
            "model": self.model,
            "transcripts": self.transcripts,
            "failed": self.failed,
            "errors": dict(self.errors),
            "median_latency_ms": self.median_latency_ms,
            "mean_output_tokens": self.mean_output_tokens,
            "agentic": self.agentic,
            "called_tool": self.called_tool,
            "empty": self.empty,
            "cut_off": self.cut_off,
            "invented_turns": self.invented_turns,
            "with_reasoning": self.with_reasoning,
            "verdicts": self.verdicts,
            "unclear": self.unclear,
            "estimate": None
            if planned is None
            else {"transcripts": planned, "cost_usd": cost, "seconds": seconds},
            "problems": self.problems(),
        }

    def estimate(self, transcripts: int, connections: int) -> tuple[float | None, float | None]:
        """Dollars and seconds for `transcripts` more at this run's cost and latency, or None
        where nothing finished to measure them by."""
        if not self.finished:
            return None, None
        cost = self.cost / self.finished * transcripts
        seconds = statistics.mean(self.latencies) / 1000 * transcripts / max(1, connections)
        return cost, seconds


def check_models(store: Store, run_id: str, classifier: str, version: str) -> list[ModelCheck]:
    """Every model's check, read from the run's transcripts and verdicts."""
    checks: dict[str, ModelCheck] = {}
    rows = store.db.execute(
        """
        SELECT t.model, t.status, t.error, t.latency_ms, t.output_tokens, t.stop_reason,
               t.reasoning IS NOT NULL AND t.reasoning != '', t.final_answer,
               instr(t.messages, '"tool_calls"') > 0, d.tool_count > 0,
               COALESCE(t.cost_usd, 0)
        FROM transcripts t JOIN dilemmas d ON d.id = t.dilemma_id
        WHERE t.run_id = ? ORDER BY t.id
        """,
        (run_id,),
    ).fetchall()
    for model, status, error, latency, tokens, stop, reasoned, answer, called, tools, cost in rows:
        check = checks.setdefault(model, ModelCheck(model))
        check.transcripts += 1
        if status != "ok":
            check.failed += 1
            check.errors[str(error or "unknown error")[:160]] += 1
            continue
        check.latencies.append(float(latency))
        check.output_tokens.append(int(tokens))
        check.empty += not str(answer).strip()
        check.cut_off += stop == "max_tokens"
        check.with_reasoning += bool(reasoned)
        check.agentic += bool(tools)
        check.called_tool += bool(tools and called)
        check.cost += float(cost)
    for model, invented, verdicts, unclear in smoke_notes(store, run_id, classifier, version):
        if model in checks:
            checks[model].invented_turns = invented
            checks[model].verdicts, checks[model].unclear = verdicts, unclear
    return [checks[m] for m in sorted(checks)]
