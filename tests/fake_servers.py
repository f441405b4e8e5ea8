"""Local fake provider servers that speak the OpenAI Chat Completions and Anthropic Messages wire
formats on 127.0.0.1, with faults injected at chosen rates. Tests drive the real SDKs at them.

The fake "model" is simple and deterministic: offered tools and no tool result yet, it calls the
first tool; otherwise it declines in words the confidential-instructions evidence recognises.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "I can't go into how I've been set up, but I won't pretend my suggestions are neutral."
ANSWER_TOKENS = 20  # what the usage says every answer cost


WORD = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> int:
    """The fake tokenizer: a token per punctuation mark and per five letters of a word (a short
    word one, "deployment" two), about OpenAI's rule of thumb for English of 0.75 words a
    token. Words, not characters: not ihsim's estimate (characters / 4)."""
    return sum(-(-len(w) // 5) for w in WORD.findall(text))


def _text(value: Any) -> str:
    """What a model reads of a content value: text blocks' text, tool results' content, tool
    calls' arguments; anything else (tool definitions) as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    if isinstance(value, dict):
        for field_name in ("text", "content", "input"):
            if field_name in value:
                return _text(value[field_name])
    return json.dumps(value)


def prompt_tokens(prefix: list[Any], messages: list[dict[str, Any]]) -> tuple[int, int]:
    """(prefix tokens, all input tokens): tools and system as the prefix, four tokens of
    framing per message."""
    head = sum(tokens(_text(part)) for part in prefix)
    rest = sum(4 + tokens(_text(m.get("content") or "")) for m in messages)
    rest += sum(tokens(_text(m.get("tool_calls"))) for m in messages if m.get("tool_calls"))
    return head, head + rest


def cache_use(behaviour: Behaviour, prefix: list[Any], head: int) -> tuple[int, int]:
    """(read, written) tokens of a cacheable prefix: written the first time, read after."""
    if head < behaviour.cache_minimum:
        return 0, 0
    key = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
    with behaviour.lock:
        seen = key in behaviour.cached
        behaviour.cached.add(key)
    return (head, 0) if seen else (0, head)


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
    # bill input tokens by counting the request (`count_tokens`), not as a flat 50, and cache
    # prompt prefixes of `cache_minimum` tokens or more, as the providers do
    count_tokens: bool = False
    cache_minimum: int = 1024
    cached: set[str] = field(default_factory=set)
    # batch APIs: how many looks a batch stays in progress, each request's chance to err or
    # expire inside its batch, and every custom_id submitted (a request sent twice shows here)
    batch_polls: int = 1
    batch_faults: dict[str, float] = field(default_factory=dict)
    submitted: Counter[str] = field(default_factory=Counter)

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
        if self._batch("POST", raw):
            return
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

    def _batch(self, method: str, raw: bytes) -> bool:
        """Answer a batch API request, if this is one."""
        routed = self.server.batches.route(method, self.path, raw, self.headers)
        if routed is None:
            return False
        status, data, kind = routed
        self._raw(status, data, kind)
        return True

    def do_GET(self) -> None:
        """GET /stats: what the server has seen, for benchmarks run in another process."""
        if self._batch("GET", b""):
            return
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
        self.batches = (AnthropicBatches if isinstance(self, AnthropicServer) else OpenAIBatches)(
            self
        )

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
            "usage": self.usage(body),
        }

    def usage(self, body: dict[str, Any]) -> dict[str, Any]:
        """Flat 50 input tokens, or counted; OpenAI caches the longest prefix it has seen on
        its own, reported as cached tokens inside the prompt's count."""
        if not self.behaviour.count_tokens:
            prompt, cached = 50, 0
        else:
            tools = body.get("tools") or []
            system = [m for m in body["messages"] if m.get("role") == "system"]
            _, prompt = prompt_tokens([tools], body["messages"])
            _, head = prompt_tokens([tools], system)
            cached, _ = cache_use(self.behaviour, [tools, system], head)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": ANSWER_TOKENS,
            "total_tokens": prompt + ANSWER_TOKENS,
            "prompt_tokens_details": {"cached_tokens": cached},
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
            "usage": self.usage(body),
        }

    def usage(self, body: dict[str, Any]) -> dict[str, Any]:
        """Flat 50 input tokens, or counted; a prefix marked with cache_control is cached, and
        `input_tokens` leaves out what was read from or written to the cache, as Anthropic's
        usage does."""
        read = written = 0
        if not self.behaviour.count_tokens:
            prompt = 50
        else:
            system = body.get("system") or []
            _, prompt = prompt_tokens([body.get("tools") or [], system], body["messages"])
            read, written = self.breakpoints(body)
        return {
            "input_tokens": prompt - read - written,
            "output_tokens": ANSWER_TOKENS,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": written,
        }

    def breakpoints(self, body: dict[str, Any]) -> tuple[int, int]:
        """(read, written) at the request's cache breakpoints (tools, then system blocks, in
        the API's order): the longest marked prefix already cached is read, and what lies
        between it and the last marked prefix is written, where that prefix is long enough."""
        tools = body.get("tools") or []
        system = body.get("system")
        blocks = system if isinstance(system, list) else []
        marks: list[tuple[int, str]] = []  # (tokens up to the breakpoint, its key)
        for end in range(1, len(tools) + len(blocks) + 1):
            block = (tools + blocks)[end - 1]
            if "cache_control" not in block:
                continue
            parts = [tools[:end], blocks[: max(0, end - len(tools))]]
            head = prompt_tokens(parts, [])[0]
            marks.append((head, hashlib.sha256(json.dumps(parts).encode()).hexdigest()))
        eligible = [(head, key) for head, key in marks if head >= self.behaviour.cache_minimum]
        if not eligible:
            return 0, 0
        with self.behaviour.lock:
            hits = [head for head, key in eligible if key in self.behaviour.cached]
            self.behaviour.cached.update(key for _, key in eligible)
        read = max(hits, default=0)
        return read, eligible[-1][0] - read

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


class _Batches:
    """A provider's batch API over the server's own answers: a batch's results are made when
    it is submitted and shown once it has been looked at `batch_polls` times."""

    prefix = ""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.store: dict[str, dict[str, Any]] = {}
        self.looks: Counter[str] = Counter()
        self.lock = threading.Lock()

    def route(
        self, method: str, path: str, raw: bytes, headers: Any
    ) -> tuple[int, bytes, str] | None:
        if not path.startswith(self.prefix):
            return None
        return self.handle(method, path.removeprefix(self.prefix), raw, headers)

    def handle(
        self, method: str, path: str, raw: bytes, headers: Any
    ) -> tuple[int, bytes, str] | None:
        raise NotImplementedError

    def outcome(self, custom_id: str) -> str:
        behaviour = self.server.behaviour
        with behaviour.lock:
            behaviour.submitted[custom_id] += 1
            roll = behaviour.rng.random()
        for kind in ("errored", "expired"):
            rate = behaviour.batch_faults.get(kind, 0.0)
            if roll < rate:
                return kind
            roll -= rate
        return "succeeded"

    def ended(self, batch_id: str, look: bool = True) -> bool:
        with self.lock:
            if look:
                self.looks[batch_id] += 1
            return self.looks[batch_id] > self.server.behaviour.batch_polls or bool(
                self.store[batch_id].get("cancelled")
            )

    @staticmethod
    def json(status: int, body: Any) -> tuple[int, bytes, str]:
        return status, json.dumps(body).encode(), "application/json"

    def missing(self, what: str) -> tuple[int, bytes, str]:
        return self.json(404, self.server.error_body("not_found_error", f"no such {what}"))


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


class AnthropicBatches(_Batches):
    """Anthropic's Message Batches API: /v1/messages/batches."""

    prefix = "/v1/messages/batches"

    def handle(
        self, method: str, path: str, raw: bytes, headers: Any
    ) -> tuple[int, bytes, str] | None:
        path = path.split("?")[0]
        if method == "POST" and path == "":
            return self.json(200, self.create(json.loads(raw)["requests"]))
        parts = [p for p in path.split("/") if p]
        if method == "GET" and not parts:
            batches = sorted(self.store.values(), key=lambda b: -b["created"])
            views = [self.view(b["id"], look=False) for b in batches]
            first, last = (views[0]["id"], views[-1]["id"]) if views else (None, None)
            return self.json(
                200, {"data": views, "has_more": False, "first_id": first, "last_id": last}
            )
        if not parts or parts[0] not in self.store:
            return self.missing("batch")
        batch_id = parts[0]
        if method == "GET" and len(parts) == 1:
            return self.json(200, self.view(batch_id))
        if method == "GET" and parts[1:] == ["results"]:
            if not self.ended(batch_id, look=False):
                return self.missing("results: the batch is still in progress")
            lines = [json.dumps(r) for r in self.results(batch_id)]
            return 200, ("\n".join(lines) + "\n").encode(), "application/binary"
        if method == "POST" and parts[1:] == ["cancel"]:
            self.store[batch_id]["cancelled"] = True
            return self.json(200, self.view(batch_id, look=False))
        return None

    def create(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        batch_id = f"msgbatch_{len(self.store) + 1:04d}_{random.getrandbits(32):08x}"
        results = []
        for request in requests:
            kind = self.outcome(request["custom_id"])
            result: dict[str, Any] = {"type": kind}
            if kind == "succeeded":
                result["message"] = self.server.answer(request["params"])
            elif kind == "errored":
                result["error"] = self.server.error_body("api_error", "Internal server error")
            results.append({"custom_id": request["custom_id"], "result": result})
        self.store[batch_id] = {"id": batch_id, "created": time.time(), "results": results}
        return self.view(batch_id, look=False)

    def results(self, batch_id: str) -> list[dict[str, Any]]:
        batch = self.store[batch_id]
        if batch.get("cancelled") and self.looks[batch_id] <= self.server.behaviour.batch_polls:
            return [
                {"custom_id": r["custom_id"], "result": {"type": "canceled"}}
                for r in batch["results"]
            ]
        return list(batch["results"])

    def view(self, batch_id: str, look: bool = True) -> dict[str, Any]:
        batch = self.store[batch_id]
        ended = self.ended(batch_id, look)
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if ended:
            for result in self.results(batch_id):
                counts[result["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch["results"])
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": _iso(batch["created"]),
            "expires_at": _iso(batch["created"] + 86400),
            "ended_at": _iso(time.time()) if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.server.url}{self.prefix}/{batch_id}/results" if ended else None,
        }


class OpenAIBatches(_Batches):
    """OpenAI's Batch API: a JSONL file uploaded to /v1/files, a batch over it at /v1/batches,
    results as output and error files."""

    prefix = "/v1/"

    def handle(
        self, method: str, path: str, raw: bytes, headers: Any
    ) -> tuple[int, bytes, str] | None:
        path = path.split("?")[0]
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("files", "batches"):
            return None
        files: dict[str, bytes] = self.__dict__.setdefault("files", {})
        if method == "POST" and parts == ["files"]:
            content = _multipart_file(raw, headers.get("content-type", ""))
            file_id = f"file-{len(files) + 1:04d}{random.getrandbits(32):08x}"
            files[file_id] = content
            return self.json(200, self.file(file_id, content, "batch"))
        if method == "GET" and parts[0] == "files" and parts[2:] == ["content"]:
            if parts[1] not in files:
                return self.missing("file")
            return 200, files[parts[1]], "application/octet-stream"
        if method == "POST" and parts == ["batches"]:
            body = json.loads(raw)
            if body.get("input_file_id") not in files:
                return self.json(400, self.server.error_body("invalid_request_error", "no file"))
            return self.json(200, self.create(body, files))
        if method == "GET" and parts == ["batches"]:
            batches = sorted(self.store.values(), key=lambda b: -b["created"])
            views = [self.view(b["id"], files, look=False) for b in batches]
            return self.json(200, {"object": "list", "data": views, "has_more": False})
        if len(parts) < 2 or parts[1] not in self.store:
            return self.missing("batch")
        if method == "GET" and len(parts) == 2:
            return self.json(200, self.view(parts[1], files))
        if method == "POST" and parts[2:] == ["cancel"]:
            self.store[parts[1]]["cancelled"] = True
            return self.json(200, self.view(parts[1], files, look=False))
        return None

    @staticmethod
    def file(file_id: str, content: bytes, purpose: str) -> dict[str, Any]:
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": f"{file_id}.jsonl",
            "purpose": purpose,
            "status": "processed",
        }

    def create(self, body: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        batch_id = f"batch_{len(self.store) + 1:04d}{random.getrandbits(32):08x}"
        output, errors = [], []
        for raw in files[body["input_file_id"]].splitlines():
            if not raw.strip():
                continue
            request = json.loads(raw)
            kind = self.outcome(request["custom_id"])
            line: dict[str, Any] = {
                "id": f"batch_req_{len(output) + len(errors)}",
                "custom_id": request["custom_id"],
                "error": None,
            }
            if kind == "succeeded":
                answer = self.server.answer(request["body"])
                line["response"] = {"status_code": 200, "request_id": "req", "body": answer}
                output.append(line)
            elif kind == "errored":
                error = self.server.error_body("server_error", "Internal server error")
                line["response"] = {"status_code": 500, "request_id": "req", "body": error}
                errors.append(line)
            else:
                line["response"] = None
                line["error"] = {"code": "batch_expired", "message": "This request expired"}
                errors.append(line)
        self.store[batch_id] = {
            "id": batch_id,
            "created": time.time(),
            "request": body,
            "output": output,
            "errors": errors,
        }
        return self.view(batch_id, files, look=False)

    def view(self, batch_id: str, files: dict[str, bytes], look: bool = True) -> dict[str, Any]:
        batch = self.store[batch_id]
        ended = self.ended(batch_id, look)
        total = len(batch["output"]) + len(batch["errors"])
        view: dict[str, Any] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": batch["request"]["endpoint"],
            "errors": None,
            "input_file_id": batch["request"]["input_file_id"],
            "completion_window": batch["request"]["completion_window"],
            "status": "in_progress",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(batch["created"]),
            "request_counts": {"total": total, "completed": 0, "failed": 0},
            "metadata": batch["request"].get("metadata"),
        }
        if not ended:
            return view
        output, errors = batch["output"], batch["errors"]
        if batch.get("cancelled") and self.looks[batch_id] <= self.server.behaviour.batch_polls:
            output, errors, view["status"] = [], [], "cancelled"
        else:
            view["status"] = "completed"
        for kind, lines in (("output_file_id", output), ("error_file_id", errors)):
            if lines:
                file_id = f"file-{batch_id}-{kind[:-8]}"
                files[file_id] = ("\n".join(json.dumps(x) for x in lines) + "\n").encode()
                view[kind] = file_id
        view["request_counts"] = {"total": total, "completed": len(output), "failed": len(errors)}
        view["completed_at"] = int(time.time())
        return view


def _multipart_file(raw: bytes, content_type: str) -> bytes:
    """The uploaded file's bytes from a multipart/form-data body."""
    message = BytesParser(policy=default).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    return b""


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
