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
    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn:
        system, turns = to_anthropic(conversation)
        body: dict[str, Any] = {"model": self.name, "messages": turns, **self.request}
        if system:
            body["system"] = system
        if dilemma.tools:
            body["tools"] = tools_for_anthropic(dilemma.tools)
        return await self.post("/v1/messages", body, (anthropic.AnthropicError,), _turn)

    async def forced(self, conversation: list[Message], tool: ToolSpec) -> Turn:
        """A turn that must call `tool` (`tool_choice` of type tool): structured output."""
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
        return await self.post("/v1/messages", body, (anthropic.AnthropicError,), _turn)


THINKING = ("thinking", "redacted_thinking")
CUTS: dict[str | None, Cut] = {"max_tokens": "max_tokens", "refusal": "filtered"}


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
        usage=Usage(
            input_tokens=usage.get("input_tokens") or 0,
            output_tokens=usage.get("output_tokens") or 0,
        ),
        reasoning="\n\n".join(thinking) or None,
    )
