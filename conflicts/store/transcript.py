"""The transcript record: one model's run of one dilemma in one epoch."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from conflicts.scenarios.dilemma import Message

Status = Literal["ok", "error"]
# max_tokens: the last answer was cut off at the output token limit; filtered: the provider's
# own safety system stopped it (Anthropic's refusal stop reason, OpenAI's content_filter), so
# what it holds is not the model's choice
Cut = Literal["max_tokens", "filtered"]
StopReason = Literal["answered", "turn_limit", "max_tokens", "filtered"]

# Why a transcript ended other than by answering, for whoever reviews its labels
NOT_ANSWERED = {
    "max_tokens": "The answer was cut off at the output token limit.",
    "filtered": "The provider's safety filter stopped the answer: it is not the model's choice.",
    "turn_limit": "The tool loop reached its turn limit before a final answer.",
}


class Usage(BaseModel):
    """Tokens as billed. `input_tokens` counts every input token; of them, `cache_read_tokens`
    were served from the provider's prompt cache and `cache_write_tokens` written to it, each
    priced apart (`conflicts.run.prices`)."""

    model_config = ConfigDict(extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )


class Turn(BaseModel):
    """One assistant turn as a provider returned it; `cached` when the cache answered instead,
    `cut` when the provider, not the model, ended it."""

    model_config = ConfigDict(extra="forbid")

    message: Message
    usage: Usage = Usage()
    reasoning: str | None = None
    cached: bool = False
    cut: Cut | None = None


class Source(BaseModel):
    """Where an imported transcript came from, in the source's own terms, so its verdicts can be
    joined back to the source's samples and compared with the source's own scores."""

    model_config = ConfigDict(extra="forbid")

    key: str  # one sample of the source, unique within its import: id and epoch, or the line
    id: str | None = None
    epoch: int | None = None
    scores: dict[str, Any] = {}
    metadata: dict[str, Any] = {}


class Transcript(BaseModel):
    """What the model added to the dilemma's messages, with cost, timing and any error.

    `messages` holds only the turns produced during the run; the dilemma holds the prompt.
    """

    model_config = ConfigDict(extra="forbid")

    run_id: str
    dilemma_id: str
    model: str
    epoch: int
    status: Status = "ok"
    messages: list[Message] = []
    final_answer: str = ""
    reasoning: str | None = None
    usage: Usage = Usage()
    latency_ms: float = 0.0
    error: str | None = None
    stop_reason: StopReason | None = None
    cost_usd: float | None = None
    source: Source | None = None  # imported transcripts only
