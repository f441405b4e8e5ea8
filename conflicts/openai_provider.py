"""`openai/<model>` and `openai-compatible/<model>`: Chat Completions with tools, through the
official SDK's async client. Compatible servers (vLLM, Ollama, llama.cpp) take `--base-url`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageFunctionToolCall

from conflicts.dilemma import Dilemma, Message, ToolCall, ToolSpec
from conflicts.sdk_errors import provider_error
from conflicts.transcript import Turn, Usage


def to_openai(messages: list[Message]) -> list[dict[str, Any]]:
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
                    "content": message.content or None,
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


@dataclass
class OpenAIProvider:
    model: str
    name: str
    client: openai.AsyncOpenAI
    request: dict[str, Any]
    secrets: tuple[str, ...]

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": str(self.client.base_url), **self.request}

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn:
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": to_openai(conversation),
            **self.request,
        }
        if dilemma.tools:
            kwargs["tools"] = tools_for_openai(dilemma.tools)
        try:
            # The SDK's own POST: create() would first walk every message against its TypedDicts,
            # 4-5 ms a request, to transform a body that is already plain JSON.
            response = await self.client.post(
                "/chat/completions", body=kwargs, cast_to=ChatCompletion
            )
        except (openai.OpenAIError, ValueError) as exc:
            raise provider_error(exc, self.secrets) from None
        message = response.choices[0].message
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=_arguments(c.function.arguments))
            for c in message.tool_calls or []
            if isinstance(c, ChatCompletionMessageFunctionToolCall)
        ]
        usage = response.usage
        return Turn(
            message=Message(role="assistant", content=message.content or "", tool_calls=calls),
            usage=Usage(
                input_tokens=usage.prompt_tokens if usage else 0,
                output_tokens=usage.completion_tokens if usage else 0,
            ),
            reasoning=getattr(message, "reasoning_content", None),
        )
