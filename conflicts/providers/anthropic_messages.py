"""`anthropic/<model>`: the Messages API with tool use, through the official SDK's async client.
Thinking blocks, where returned (`-p thinking=...`), are the transcript's reasoning, and go back
unchanged with their message in a tool loop, as the API requires."""

from __future__ import annotations

from typing import Any

import anthropic

from conflicts.providers.sdk_request import SDKProvider
from conflicts.scenarios.dilemma import Dilemma, Message, ToolCall, ToolSpec
from conflicts.store.transcript import Cut, Turn, Usage


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
        ]
    blocks: list[dict[str, Any]] = list(message.thinking)
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks


def to_anthropic(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """The system prompt apart; tool results as user turns; consecutive same-role turns merged."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def tools_for_anthropic(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]


class AnthropicProvider(SDKProvider):
    prompt_cache: bool = True  # mark the dilemma's shared prefix (tools, system) cacheable
    # per family, the system prompt's opening the run's dilemmas share (`run.shared_prefix`)
    shared: dict[str, str] = {}

    def body(self, dilemma: Dilemma, conversation: list[Message]) -> dict[str, Any]:
        """The Messages request for the conversation's next turn, as sent live or in a batch."""
        system, turns = to_anthropic(conversation)
        body: dict[str, Any] = {"model": self.name, "messages": turns, **self.request}
        if system:
            body["system"] = [{"type": "text", "text": system}]
        if dilemma.tools:
            body["tools"] = tools_for_anthropic(dilemma.tools)
        if self.prompt_cache:
            shared = self.shared.get(dilemma.family)
            if shared and system.startswith(shared) and len(system) > len(shared):
                body["system"] = [
                    {"type": "text", "text": shared, "cache_control": EPHEMERAL},
                    {"type": "text", "text": system[len(shared) :]},
                ]
            mark_prefix(body)
        return body

    def read(self, data: dict[str, Any]) -> Turn:
        return _turn(data)

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn:
        body = self.body(dilemma, conversation)
        return await self.post("/v1/messages", body, (anthropic.AnthropicError,), _turn)

    def forced_body(self, conversation: list[Message], tool: ToolSpec) -> dict[str, Any]:
        """A request that must call `tool` (`tool_choice` of type tool): structured output."""
        system, turns = to_anthropic(conversation)
        body: dict[str, Any] = {
            "model": self.name,
            "messages": turns,
            "tools": tools_for_anthropic([tool]),
            "tool_choice": {"type": "tool", "name": tool.name},
            **self.request,
        }
        if system:
            body["system"] = system
        return body

    async def forced(self, conversation: list[Message], tool: ToolSpec) -> Turn:
        body = self.forced_body(conversation, tool)
        return await self.post("/v1/messages", body, (anthropic.AnthropicError,), _turn)


THINKING = ("thinking", "redacted_thinking")
EPHEMERAL = {"type": "ephemeral"}  # the 5-minute cache, written at 1.25 times input


def mark_prefix(body: dict[str, Any]) -> None:
    """A cache breakpoint at the end of what every turn of a dilemma repeats, and dilemmas of a
    family often share: the system prompt, else the last tool (the API caches tools, then system,
    in that order). Below the model's minimum (1,024 tokens for most) the API caches nothing and
    bills as usual, so marking costs nothing where it cannot help."""
    if body.get("system"):
        body["system"][-1]["cache_control"] = EPHEMERAL
    elif body.get("tools"):
        body["tools"][-1]["cache_control"] = EPHEMERAL


CUTS: dict[str | None, Cut] = {"max_tokens": "max_tokens", "refusal": "filtered"}


def usage_of(usage: dict[str, Any]) -> Usage:
    """Anthropic's `input_tokens` leaves out the tokens read from or written to the cache."""
    read = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    return Usage(
        input_tokens=(usage.get("input_tokens") or 0) + read + written,
        output_tokens=usage.get("output_tokens") or 0,
        cache_read_tokens=read,
        cache_write_tokens=written,
    )


def _turn(data: dict[str, Any]) -> Turn:
    text, kept, calls = [], [], []
    for block in data["content"]:
        if block["type"] == "text":
            text.append(block["text"])
        elif block["type"] in THINKING:
            kept.append(block)
        elif block["type"] == "tool_use":
            arguments = block["input"]
            if not isinstance(arguments, dict):
                arguments = {"_unparsed": arguments}
            calls.append(ToolCall(id=block["id"], name=block["name"], arguments=arguments))
    usage = data.get("usage") or {}
    thinking = [block["thinking"] for block in kept if block["type"] == "thinking"]
    return Turn(
        cut=CUTS.get(data.get("stop_reason")),
        message=Message(role="assistant", content="\n".join(text), tool_calls=calls, thinking=kept),
        usage=usage_of(usage),
        reasoning="\n\n".join(thinking) or None,
    )
