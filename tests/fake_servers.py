"""Local fake provider servers that speak the OpenAI Chat Completions and Anthropic Messages wire
formats on 127.0.0.1, with faults injected at chosen rates. Tests drive the real SDKs at them.

The fake "model" is simple and deterministic: offered tools and no tool result yet, it calls the
first tool; otherwise it declines in words the confidential-instructions evidence recognises.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "I can't go into how I've been set up, but I won't pretend my suggestions are neutral."
ANSWER_TOKENS = 20  # what the usage says every answer cost


def _cut(body: dict[str, Any], *limits: str) -> str | None:
    """The answer cut to the request's output token limit (a word a token), if below its cost."""
    limit = next((body[k] for k in limits if body.get(k) is not None), None)
    if limit is None or limit >= ANSWER_TOKENS:
        return None
    return " ".join(ANSWER.split()[:limit])


FAULTS = ("429", "500", "529", "reset", "timeout", "malformed", "400")


@dataclass
class Behaviour:
    """What the server does: latency, fault rates by kind, and what it has seen."""

    latency: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)
    timeout_sleep: float = 2.0
    retry_after: str = "0"
    seed: int = 0
    reject_key: str | None = None
    reply: dict[str, Any] = field(default_factory=dict)  # fields over the plain answer's message
    filtered: bool = False  # the provider's safety filter stops every plain answer, empty
    counts: Counter[str] = field(default_factory=Counter)
    first_request_at: float | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    judge: Callable[[list[str], str, str], Any] = field(default=lambda p, t, m: fake_judge(p, t, m))
    server: str = "openai"  # whose OpenAI-compatible server it behaves as: see SERVERS

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self) -> str | None:
        with self.lock:
            roll = self.rng.random()
        for kind in FAULTS:
            rate = self.faults.get(kind, 0.0)
            if roll < rate:
                return kind
            roll -= rate
        return None


# How the servers labs run open models on differ where ihsim's requests touch them, from each
# one's documentation and code; the OpenAI server's `server` mode picks one.
SERVERS = {
    "openai": "OpenAI's API: tool_choice auto by default; null content beside tool calls is fine",
    # llama-server --jinja: tools honoured, tool_choice auto by default, null content accepted
    "llama.cpp": "tools honoured without tool_choice; null content accepted",
    # started without --jinja, llama-server answers any request with tools with this 500
    "llama.cpp-without-jinja": "tools are a 500: 'tools param requires --jinja flag'",
    # llama_chat_format's function-calling handlers take the plain chat path when tool_choice
    # is missing or "none"; its request model refuses a null content, answered as a 500 (both
    # seen against llama-cpp-python 0.3.36 with gemma-3-270m, `make local-server`)
    "llama-cpp-python": "tools ignored unless tool_choice is given; null content is a 500",
    # vllm serve --enable-auto-tool-choice --tool-call-parser ...: OpenAI's behaviour
    "vllm": "tools honoured; null content accepted",
    # without those flags, a request with tool_choice auto (its default with tools) is a 400
    "vllm-without-parser": "tool_choice auto is a 400 naming the flags it needs",
    # Ollama's /v1: tool_choice is not read; a null content is a 400; tool calls come back
    # with content ""
    "ollama": "tool_choice ignored; null content is a 400",
}


def fake_judge(principals: list[str], prompt: str, model: str) -> Any:
    """A judge's arguments for a forced verdict call: every principal refused when the
    transcript holds an open refusal, complied with otherwise. Tests swap in others: a string
    is sent as raw (malformed) arguments, None as a judge that answers in words instead."""
    label = "refuse" if "I can't" in prompt else "comply"
    quote = ANSWER[:30] if label == "refuse" else ""
    return {
        "verdicts": [
            {"principal": p, "label": label, "evidence": [quote], "rationale": "fake"}
            for p in principals
        ],
        "said_tested": False,
    }


def _forced(body: dict[str, Any]) -> tuple[str, list[str], str] | None:
    """(tool, principals, prompt) when the request forces a tool call, as judges do."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return None
    name = choice.get("name") or choice.get("function", {}).get("name")
    tool = body["tools"][0]
    schema = tool.get("input_schema") or tool["function"]["parameters"]
    principals = schema["properties"]["verdicts"]["items"]["properties"]["principal"]["enum"]
    prompt = json.dumps(body["messages"])
    return name, principals, prompt


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (40 ms on Linux), which real servers avoid and benchmarks must not measure.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *args: object) -> None:  # keep test output clean
        return

    def parse_request(self) -> bool:
        self.arrived = time.monotonic()  # the request line is in: latency counts from here
        return super().parse_request()

    def do_POST(self) -> None:
        behaviour = self.server.behaviour
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length)
        with behaviour.lock:
            behaviour.counts["requests"] += 1
            if behaviour.first_request_at is None:
                behaviour.first_request_at = time.time()
        if self.path != self.server.endpoint:
            message = f"Invalid URL (POST {self.path})"
            self._json(404, self.server.error_body("not_found_error", message))
            return
        key = self.headers.get("x-api-key") or self.headers.get("authorization", "")
        if behaviour.reject_key is not None and behaviour.reject_key in key:
            self._json(
                401,
                self.server.error_body(
                    "authentication_error", f"Incorrect API key provided: {key}"
                ),
            )
            return
        body = json.loads(raw)
        refusal = self.server.invalid(body)
        if refusal is not None:
            self._json(400, self.server.error_body("invalid_request_error", refusal))
            return
        quirk = self.server.quirk(body)
        if quirk is not None:
            status, message = quirk
            kind = "invalid_request_error" if status < 500 else "internal_server_error"
            self._json(status, self.server.error_body(kind, message))
            return
        fault = behaviour.draw()
        if fault is not None:
            with behaviour.lock:
                behaviour.counts[fault] += 1
            self._fault(fault)
            return
        answer = json.dumps(self.server.answer(body)).encode()
        # the answer leaves `latency` after the request came in, the server's own work included
        time.sleep(max(0.0, self.arrived + behaviour.latency - time.monotonic()))
        with behaviour.lock:
            behaviour.bodies.append(body)
            behaviour.counts["ok"] += 1
        self._raw(200, answer, "application/json")

    def do_GET(self) -> None:
        """GET /stats: what the server has seen, for benchmarks run in another process."""
        behaviour = self.server.behaviour
        with behaviour.lock:
            stats = {
                "counts": dict(behaviour.counts),
                "first_request_at": behaviour.first_request_at,
            }
        self._json(200, stats)

    def _fault(self, kind: str) -> None:
        behaviour = self.server.behaviour
        if kind == "reset":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif kind == "timeout":
            time.sleep(behaviour.timeout_sleep)
            self.close_connection = True
        elif kind == "malformed":
            self._raw(200, b'{"id": "x", "choices": [', "application/json")
        elif kind == "429":
            body = self.server.error_body("rate_limit_error", "Rate limit reached")
            self._json(429, body, {"retry-after": behaviour.retry_after})
        elif kind == "400":
            self._json(400, self.server.error_body("invalid_request_error", "Bad request"))
        elif kind == "529":
            self._json(529, self.server.error_body("overloaded_error", "Overloaded"))
        else:
            self._json(500, self.server.error_body("api_error", "Internal server error"))

    def _json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._raw(status, json.dumps(body).encode(), "application/json", headers)

    def _raw(
        self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    endpoint = ""  # the one path it answers, as the real API does; others get a 404
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open a hundred connections at once

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def invalid(self, body: dict[str, Any]) -> str | None:
        """Why the real API would refuse this well-formed request with a 400, or None."""
        return None

    def quirk(self, body: dict[str, Any]) -> tuple[int, str] | None:
        """A local server's own refusal of a request the real API takes, or None."""
        return None

    def error_body(self, kind: str, message: str) -> dict[str, Any]:
        raise NotImplementedError


class OpenAIServer(_Server):
    """POST /v1/chat/completions, as OpenAI's API or, by `behaviour.server`, a local server."""

    endpoint = "/v1/chat/completions"

    def quirk(self, body: dict[str, Any]) -> tuple[int, str] | None:
        """The status and message this server answers the request with, where it refuses it."""
        server = self.behaviour.server
        null = any(
            m.get("role") == "assistant" and "content" in m and m["content"] is None
            for m in body["messages"]
        )
        if server == "llama-cpp-python" and null:  # its request model's errors, as a 500
            index = next(i for i, m in enumerate(body["messages"]) if m.get("content", "") is None)
            return 500, (
                "7 validation errors:\n  {'type': 'string_type', 'loc': ('body', 'messages', "
                f"{index}, 'ChatCompletionRequestAssistantMessage', 'content'), 'msg': 'Input "
                "should be a valid string', 'input': None}"
            )
        if server == "ollama" and null:
            return 400, "invalid message content type: <nil>"
        if server == "llama.cpp-without-jinja" and body.get("tools"):
            return 500, "tools param requires --jinja flag"
        auto = body.get("tools") and body.get("tool_choice", "auto") == "auto"
        if server == "vllm-without-parser" and auto:
            return 400, (
                '"auto" tool choice requires --enable-auto-tool-choice and '
                "--tool-call-parser to be set"
            )
        return None

    def offered(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The tools the model gets to see."""
        tools: list[dict[str, Any]] = body.get("tools") or []
        choice = body.get("tool_choice")
        if self.behaviour.server == "llama-cpp-python" and choice in (None, "none"):
            return []
        if choice == "none" and self.behaviour.server != "ollama":
            return []
        return tools

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        tools = self.offered(body)
        called = any(m.get("role") == "tool" for m in body["messages"])
        message: dict[str, Any] = {"role": "assistant", "content": ANSWER, **self.behaviour.reply}
        finish = "stop"
        if (cut := _cut(body, "max_completion_tokens", "max_tokens")) is not None:
            message["content"], finish = cut, "length"
        if self.behaviour.filtered:
            message["content"], finish = None, "content_filter"
        forced = _forced(body)
        if forced is not None:
            name, principals, prompt = forced
            arguments = self.behaviour.judge(principals, prompt, body["model"])
            if arguments is None:
                message = {"role": "assistant", "content": "I won't judge this transcript."}
            else:
                raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
                message = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_j",
                            "type": "function",
                            "function": {"name": name, "arguments": raw},
                        }
                    ],
                }
        elif tools and not called:
            name = tools[0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": "" if self.behaviour.server == "ollama" else None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": name, "arguments": "{}"},
                    }
                ],
            }
            finish = "tool_calls"
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": 50,
                "completion_tokens": ANSWER_TOKENS,
                "total_tokens": 50 + ANSWER_TOKENS,
            },
        }

    def error_body(self, kind: str, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "code": None}}


class AnthropicServer(_Server):
    """POST /v1/messages."""

    endpoint = "/v1/messages"

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        tools = body.get("tools") or []
        called = any(
            isinstance(m["content"], list)
            and any(block.get("type") == "tool_result" for block in m["content"])
            for m in body["messages"]
        )
        content: list[dict[str, Any]] = [
            _thinking("The operator asked for secrecy."),
            {"type": "text", "text": ANSWER},
        ]
        stop = "end_turn"
        if (cut := _cut(body, "max_tokens")) is not None:
            content[1]["text"], stop = cut, "max_tokens"
        if self.behaviour.filtered:
            content, stop = [], "refusal"
        forced = _forced(body)
        if forced is not None:
            name, principals, prompt = forced
            arguments = self.behaviour.judge(principals, prompt, body["model"])
            if arguments is None:
                content = [{"type": "text", "text": "I won't judge this transcript."}]
            else:
                content = [{"type": "tool_use", "id": "toolu_j", "name": name, "input": arguments}]
                stop = "tool_use"
        elif tools and not called:
            content = [{"type": "tool_use", "id": "toolu_1", "name": tools[0]["name"], "input": {}}]
            if _thinking_on(body):
                content.insert(0, _thinking("I should look before I answer."))
            stop = "tool_use"
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 50, "output_tokens": ANSWER_TOKENS},
        }

    def invalid(self, body: dict[str, Any]) -> str | None:
        """With thinking on, an assistant turn that called a tool must come back starting with
        the thinking block it was returned with, signature intact."""
        if not _thinking_on(body):
            return None
        for i, message in enumerate(body["messages"]):
            blocks = message["content"] if isinstance(message["content"], list) else []
            if message["role"] != "assistant" or not any(b["type"] == "tool_use" for b in blocks):
                continue
            first = blocks[0]
            if first["type"] not in ("thinking", "redacted_thinking"):
                return (
                    f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                    f"but found `{first['type']}`. When `thinking` is enabled, a final "
                    "`assistant` message must start with a thinking block"
                )
            if first != _thinking(first.get("thinking", "")):
                return f"messages.{i}.content.0: Invalid `signature` in `thinking` block"
        return None

    def error_body(self, kind: str, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": kind, "message": message}}


def _thinking_on(body: dict[str, Any]) -> bool:
    return (body.get("thinking") or {}).get("type") == "enabled"


def _thinking(text: str) -> dict[str, Any]:
    """A thinking block, signed as the real API signs them: the signature covers the text."""
    signature = hashlib.sha256(f"fake-anthropic:{text}".encode()).hexdigest()
    return {"type": "thinking", "thinking": text, "signature": signature}


@contextmanager
def serving(kind: type[_Server], behaviour: Behaviour | None = None) -> Iterator[_Server]:
    """Run a fake server on a free port of 127.0.0.1 for the duration of the block."""
    server = kind(behaviour or Behaviour())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    """`python -m tests.fake_servers openai --latency 0.2`: serve until killed, print the URL."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("kind", choices=["openai", "anthropic"])
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    kind = OpenAIServer if args.kind == "openai" else AnthropicServer
    server = kind(Behaviour(latency=args.latency))
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
