"""The cost of a run before it runs (`ihsim estimate`): requests, tokens and dollars per model,
live, live with prompt caching, by batch, and by batch with caching.

How the figures are made, so a reader can judge them:
- input tokens: the characters of what the model is sent (messages, and the tools as JSON) over
  CHARS_PER_TOKEN, plus MESSAGE_TOKENS of framing per message; no tokenizer is loaded, and the
  error against a provider's own count is what `make bench` measures on the fake servers;
- output tokens: `--output-tokens`, else the mean per answer of this model's finished
  transcripts in the store, else DEFAULT_OUTPUT_TOKENS;
- requests: one per transcript for dilemmas without tools; a dilemma with tools is estimated
  at AGENTIC_TURNS requests (a round of tool calls, then the answer), each resending the
  conversation so far, and at the turn limit as the worst case;
- caching: the prefix every request of a dilemma repeats (tools, system prompt), and the opening
  a family's system prompts share, when at least CACHE_MINIMUM tokens, are written once each and
  read by every later request that repeats them (Anthropic, where ihsim places the breakpoints,
  bills writes; OpenAI caches on its own and bills reads only). Cache lifetimes are not modelled:
  a run slower than five minutes a prefix reads less than this says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from conflicts.run.prices import PriceTable
from conflicts.run.shared_prefix import SAMPLE, common_prefix
from conflicts.scenarios.dilemma import Dilemma
from conflicts.store.transcript import Usage

CHARS_PER_TOKEN = 4.0
MESSAGE_TOKENS = 4
DEFAULT_OUTPUT_TOKENS = 300
AGENTIC_TURNS = 2
CACHE_MINIMUM = 1024
TOOL_RESULT_TOKENS = 100  # a scripted tool result, resent with every later turn


def tokens(text: str) -> int:
    return round(len(text) / CHARS_PER_TOKEN)


@dataclass
class Prompt:
    """What one dilemma's first request costs in input: its cacheable prefix (tools and system
    prompt) and the rest; `marks`, the prefixes a cache can hold, shortest first, as (tokens,
    what identifies them): the family's shared opening, where it has one, then the whole."""

    prefix: int
    rest: int
    marks: list[tuple[int, bytes]]
    agentic: bool


def system_text(dilemma: Dilemma) -> str:
    return "\n\n".join(m.content for m in dilemma.messages if m.role == "system")


def prompt_of(dilemma: Dilemma, shared: str | None = None) -> Prompt:
    tools = orjson.dumps([t.model_dump() for t in dilemma.tools]) if dilemma.tools else b""
    system = system_text(dilemma)
    head = tokens(tools.decode())
    prefix = head + (MESSAGE_TOKENS + tokens(system) if system else 0)
    rest = sum(MESSAGE_TOKENS + tokens(m.content) for m in dilemma.messages if m.role != "system")
    marks = [(prefix, tools + system.encode())]
    if shared and system.startswith(shared) and len(system) > len(shared):
        marks.insert(0, (head + MESSAGE_TOKENS + tokens(shared), tools + shared.encode()))
    return Prompt(prefix, rest, marks, bool(dilemma.tools))


def shared_openings(dilemmas: Iterable[Dilemma]) -> dict[str, str]:
    """Per family, the system prompt opening its first dilemmas share, as runs find it
    (`conflicts.run.shared_prefix`)."""
    systems: dict[str, list[str]] = {}
    for dilemma in dilemmas:
        texts = systems.setdefault(dilemma.family, [])
        if len(texts) < SAMPLE:
            texts.append(system_text(dilemma))
    found = {family: common_prefix(texts) for family, texts in systems.items()}
    return {family: prefix for family, prefix in found.items() if prefix}


@dataclass
class Estimate:
    """One model's estimate; usages priced four ways by `priced`."""

    model: str
    transcripts: int = 0
    agentic: int = 0
    requests: int = 0
    requests_at_limit: int = 0
    live: Usage = field(default_factory=Usage)
    cached: Usage = field(default_factory=Usage)
    at_limit: Usage = field(default_factory=Usage)
    output_per_answer: int = DEFAULT_OUTPUT_TOKENS
    output_from: str = "assumed"

    def priced(self, prices: PriceTable) -> dict[str, float | None]:
        return {
            "live": prices.cost(self.model, self.live),
            "live_cached": prices.cost(self.model, self.cached),
            "batch": prices.cost(self.model, self.live, batch=True),
            "batch_cached": prices.cost(self.model, self.cached, batch=True),
            "live_at_turn_limit": prices.cost(self.model, self.at_limit),
        }


def caches(model: str) -> tuple[bool, bool]:
    """(whether the provider caches prefixes, whether it bills writing them)."""
    if model.startswith("anthropic/"):
        return True, True
    return model.startswith("openai/"), False


def estimate(
    dilemmas: Iterable[Dilemma],
    models: list[str],
    epochs: int,
    max_turns: int,
    output_tokens: dict[str, tuple[int, str]],
    shared: dict[str, str] | None = None,
) -> list[Estimate]:
    """Each model's requests and tokens for the dilemmas, `epochs` times each; `shared`, the
    families' shared system prompt openings (`shared_openings`)."""
    estimates = {m: Estimate(m) for m in models}
    for model in models:
        estimates[model].output_per_answer, estimates[model].output_from = output_tokens[model]
    seen: Counter[tuple[str, bytes]] = Counter()
    for dilemma in dilemmas:
        prompt = prompt_of(dilemma, (shared or {}).get(dilemma.family))
        for model in models:
            _add(estimates[model], prompt, epochs, max_turns, seen)
    return list(estimates.values())


def _add(
    est: Estimate, prompt: Prompt, epochs: int, max_turns: int, seen: Counter[tuple[str, bytes]]
) -> None:
    turns = min(AGENTIC_TURNS, max_turns) if prompt.agentic else 1
    limit = max_turns if prompt.agentic else 1
    est.transcripts += epochs
    est.agentic += epochs if prompt.agentic else 0
    est.requests += epochs * turns
    est.requests_at_limit += epochs * limit
    cacheable, bills_writes = caches(est.model)
    out = est.output_per_answer
    for _ in range(epochs):
        for turn in range(limit):
            # each later turn resends the earlier answers (tool calls) and tool results
            grown = turn * (out + TOOL_RESULT_TOKENS)
            usage = Usage(input_tokens=prompt.prefix + prompt.rest + grown, output_tokens=out)
            est.at_limit = est.at_limit.plus(usage)
            if turn >= turns:
                continue
            est.live = est.live.plus(usage)
            read = written = 0
            marks = [(n, (est.model, key)) for n, key in prompt.marks if n >= CACHE_MINIMUM]
            if cacheable and marks:
                # the longest prefix held is read; what lies beyond it, to the end, is written
                read = max((n for n, key in marks if seen[key]), default=0)
                written = marks[-1][0] - read if bills_writes else 0
                seen.update(key for _, key in marks)
            est.cached = est.cached.plus(
                usage.model_copy(update={"cache_read_tokens": read, "cache_write_tokens": written})
            )
