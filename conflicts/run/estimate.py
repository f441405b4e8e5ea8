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
- caching: the prefix every request of a dilemma repeats (tools, system prompt), when at least
  CACHE_MINIMUM tokens, is written once per distinct prefix and read by every later request
  (Anthropic, which ihsim marks, bills writes; OpenAI caches on its own and bills reads only).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from conflicts.run.prices import PriceTable
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
    """What one dilemma's first request costs in input: its cacheable prefix and the rest."""

    prefix: int
    rest: int
    key: bytes  # identifies the prefix: requests with the same one share a cache entry
    agentic: bool


def prompt_of(dilemma: Dilemma) -> Prompt:
    tools = orjson.dumps([t.model_dump() for t in dilemma.tools]) if dilemma.tools else b""
    system = [m.content for m in dilemma.messages if m.role == "system"]
    prefix = tokens(tools.decode()) + sum(MESSAGE_TOKENS + tokens(s) for s in system)
    rest = sum(MESSAGE_TOKENS + tokens(m.content) for m in dilemma.messages if m.role != "system")
    return Prompt(prefix, rest, tools + orjson.dumps(system), bool(dilemma.tools))


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
) -> list[Estimate]:
    """Each model's requests and tokens for the dilemmas, `epochs` times each."""
    estimates = {m: Estimate(m) for m in models}
    for model in models:
        estimates[model].output_per_answer, estimates[model].output_from = output_tokens[model]
    seen: Counter[tuple[str, bytes]] = Counter()
    for dilemma in dilemmas:
        prompt = prompt_of(dilemma)
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
            if cacheable and prompt.prefix >= CACHE_MINIMUM:
                key = (est.model, prompt.key)
                if seen[key]:
                    read = prompt.prefix
                elif bills_writes:
                    written = prompt.prefix
                seen[key] += 1
            est.cached = est.cached.plus(
                usage.model_copy(update={"cache_read_tokens": read, "cache_write_tokens": written})
            )
