"""`openai/<model>` and `openai-compatible/<model>`: Chat Completions with tools, through the
official SDK's async client. Compatible servers (vLLM, Ollama, llama.cpp) take `--base-url`."""

from __future__ import annotations

import json
from typing import Any

import openai

from conflicts.providers.sdk_request import SDKProvider
from conflicts.scenarios.dilemma import Dilemma, Message, ToolCall, ToolSpec
from conflicts.store.transcript import Cut, Turn, Usage


def to_openai(messages: list[Message], empty: str | None = None) -> list[dict[str, Any]]:
    """Messages in the Chat Completions shape. `empty` is the content of an assistant turn that
    only called tools: None for OpenAI's API, "" for other servers (Ollama answers a null with
    400 "invalid message content type: <nil>", llama-cpp-python with a 500)."""
    converted: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            converted.append(
                {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
            )
        elif message.role == "assistant" and message.tool_calls:
            converted.append(
                {
                    "role": "assistant",
                    "content": message.content or empty,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.name,
                                "arguments": json.dumps(call.arguments),
                            },
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            converted.append({"role": message.role, "content": message.content})
    return converted


def tools_for_openai(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _arguments(raw: str | None) -> dict[str, Any]:
    """A model's tool arguments; text that is not a JSON object is kept, not executed."""
    try:
        parsed = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"_unparsed": raw}
    return parsed if isinstance(parsed, dict) else {"_unparsed": raw}


class OpenAIProvider(SDKProvider):
    def body(self, dilemma: Dilemma, conversation: list[Message]) -> dict[str, Any]:
        """The Chat Completions request for the conversation's next turn, live or batched."""
        body: dict[str, Any] = {
            "model": self.name,
            "messages": to_openai(conversation, self.empty_content),
            **self.request,
        }
        if dilemma.tools:
            # "auto" is OpenAI's default, and llama-cpp-python ignores tools without it
            body["tools"] = tools_for_openai(dilemma.tools)
            body.setdefault("tool_choice", "auto")
        else:
            body.pop("tool_choice", None)  # a -p tool_choice without tools is refused
        return body

    def read(self, data: dict[str, Any]) -> Turn:
        return _turn(data)

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn:
        body = self.body(dilemma, conversation)
        return await self.post("/chat/completions", body, (openai.OpenAIError,), _turn)

    @property
    def empty_content(self) -> str | None:
        return None if self.model.startswith("openai/") else ""

    def fingerprint(self) -> dict[str, Any]:
        """The request's identity: tool_choice and empty contents are part of what was sent
        (answers cached before either was sent are not served for requests that send them)."""
        return {**super().fingerprint(), "wire": 2}

    def forced_body(self, conversation: list[Message], tool: ToolSpec) -> dict[str, Any]:
        """A request that must call `tool`: structured output by tool forcing, which OpenAI,
        vLLM and llama.cpp servers all honour."""
        return {
            "model": self.name,
            "messages": to_openai(conversation, self.empty_content),
            "tools": tools_for_openai([tool]),
            **self.request,
            "tool_choice": {"type": "function", "function": {"name": tool.name}},
        }

    async def forced(self, conversation: list[Message], tool: ToolSpec) -> Turn:
        body = self.forced_body(conversation, tool)
        return await self.post("/chat/completions", body, (openai.OpenAIError,), _turn)


CUTS: dict[str | None, Cut] = {"length": "max_tokens", "content_filter": "filtered"}


def _turn(data: dict[str, Any]) -> Turn:
    message = data["choices"][0]["message"]
    calls = [
        ToolCall(
            id=c["id"],
            name=c["function"]["name"],
            arguments=_arguments(c["function"].get("arguments")),
        )
        for c in message.get("tool_calls") or []
        if c.get("type", "function") == "function"
    ]
    usage = data.get("usage") or {}
    reasoning, content = split_thinking(message.get("content") or "")
    return Turn(
        cut=CUTS.get(data["choices"][0].get("finish_reason")),
        message=Message(role="assistant", content=content, tool_calls=calls),
        usage=Usage(
            input_tokens=usage.get("prompt_tokens") or 0,
            output_tokens=usage.get("completion_tokens") or 0,
            # OpenAI counts its cached prefix inside prompt_tokens; servers may send null
            cache_read_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
        ),
        reasoning="\n\n".join(filter(None, [_reasoning_field(message), reasoning])) or None,
    )


def _reasoning_field(message: dict[str, Any]) -> str | None:
    """What the server parsed out as reasoning: `reasoning` (vLLM 0.18 and later, Ollama,
    OpenRouter) or `reasoning_content` (DeepSeek, llama.cpp, older vLLM)."""
    for key in ("reasoning", "reasoning_content"):
        if isinstance(value := message.get(key), str) and value.strip():
            return value
    return None


def split_thinking(content: str) -> tuple[str | None, str]:
    """(reasoning, answer) from content that holds a thinking model's reasoning inline, as one
    served without a reasoning parser writes it: `<think>...</think>` first, or a lone
    `</think>` where its chat template opened the tag. Left in the answer, the reasoning would
    be judged as said to the user. A tag further into the answer is the answer's own."""
    head, closed, answer = content.partition("</think>")
    if not closed:
        return None, content
    opened = head.lstrip()
    if opened.startswith("<think>"):
        head = opened.removeprefix("<think>")
    elif "<think>" in head:
        return None, content
    return head.strip() or None, answer.lstrip()
