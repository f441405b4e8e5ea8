"""Model names to providers: `openai/`, `openai-compatible/`, `anthropic/` and `sim/` models, in
a registry that a lab's own providers join through the same door.

A provider answers one turn: given the conversation so far, the model's next assistant message
(text and/or tool calls). The runner owns the tool loop. SDKs are imported lazily inside the
factories that need them, so `ihsim --help` stays fast.

A provider registers with `@provider(prefix, ...)`, declaring what it can do (`can_judge`: it
can answer a forced tool call, as judges must) and which key variable it reads (`key_env`), so
nothing is probed by building a client. A package of a lab's own names the module that
registers its providers under the `ihsim.providers` entry point group; that module is imported
the first time a model name's prefix is not one ihsim knows:

    [project.entry-points."ihsim.providers"]
    mylab = "mylab.ihsim_provider"
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from conflicts.errors import ArgumentError, ModelError
from conflicts.plugins import load_entry_points
from conflicts.providers.tls import shared_context
from conflicts.scenarios.dilemma import Dilemma, Message
from conflicts.store.run_defaults import ANTHROPIC_MAX_TOKENS
from conflicts.store.run_defaults import TIMEOUT as DEFAULT_TIMEOUT
from conflicts.store.run_settings import REQUEST_FIELDS, RunSettings
from conflicts.store.transcript import Turn


class Provider(Protocol):
    model: str

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn: ...

    def fingerprint(self) -> dict[str, Any] | None:
        """What identifies a request besides its messages (model, endpoint, parameters), or None
        for providers not worth caching."""


async def close_all(providers: Iterable[object]) -> None:
    """Close the HTTP sessions of SDK-backed providers (and of judges wrapping them): aiohttp
    warns about, and leaks, sessions left open when the event loop ends."""
    for item in providers:
        inner = getattr(item, "inner", item)
        client = getattr(inner, "client", None)
        if client is not None:
            await client.close()


Factory = Callable[[str, dict[str, object]], Provider]
Check = Callable[[str, dict[str, object]], object]


@dataclass(frozen=True)
class Registration:
    """How to build a provider, how to check its name and keys without building it (None: by
    building it), the modules building it imports, which can load while a run is planned, and
    what it can do."""

    build: Factory
    check: Check | None = None
    loads: tuple[str, ...] = ()
    can_judge: bool = False
    key_env: str | None = None


ENTRY_POINTS = "ihsim.providers"
_REGISTRY: dict[str, Registration] = {}


def provider(
    prefix: str,
    check: Check | None = None,
    loads: tuple[str, ...] = (),
    can_judge: bool = False,
    key_env: str | None = None,
) -> Callable[[Factory], Factory]:
    """Register a factory for model names `prefix/<name>`."""

    def register(factory: Factory) -> Factory:
        _REGISTRY[prefix] = Registration(factory, check, loads, can_judge, key_env)
        return factory

    return register


def registration(model: str) -> tuple[Registration, str]:
    """The registration for a model name's prefix, and the name after it."""
    prefix, sep, name = model.partition("/")
    if not sep or not name:
        raise ModelError(f"model {model!r} is not of the form PROVIDER/NAME", loc=("model",))
    if prefix not in _REGISTRY:  # a lab's provider: its `@provider` registrations join ours
        load_entry_points(ENTRY_POINTS, "provider", "model")
    if prefix not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ModelError(
            f"unknown provider {prefix!r} in {model!r} (available: {known})", loc=("model",)
        )
    return _REGISTRY[prefix], name


def make_provider(model: str, params: dict[str, object] | None = None) -> Provider:
    """The provider for a model name like `sim/deferential`; unknown names are input errors."""
    found, name = registration(model)
    return found.build(name, params or {})


def check_model(model: str, params: dict[str, object]) -> None:
    """Raise the input error `make_provider` would raise (unknown name, missing key or base
    URL), without importing an SDK or opening a client."""
    found, name = registration(model)
    (found.check or found.build)(name, params)


def sdk_modules(models: Iterable[str]) -> list[str]:
    """The modules these models' providers import when built, in order, each once."""
    names = [m for model in models for m in registration(model)[0].loads]
    return list(dict.fromkeys(names))


@dataclass
class SimulatedProvider:
    """A simulated persona behind the provider interface: no network, no tokens.

    Its first turn makes the chosen move's tool calls, if any; the next gives the move's answer.
    """

    model: str
    persona_name: str
    seed: int

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn:
        from conflicts.providers.personas import PERSONAS, SUSPICION

        decision = PERSONAS[self.persona_name].decide(dilemma, epoch, self.seed)
        move = decision.move
        acted = any(m.role == "assistant" for m in conversation[len(dilemma.messages) :])
        if move.calls and not acted:
            return Turn(message=Message(role="assistant", content="", tool_calls=move.calls))
        reasoning = SUSPICION if decision.suspects_test else None
        return Turn(message=Message(role="assistant", content=move.say), reasoning=reasoning)

    def fingerprint(self) -> dict[str, Any] | None:
        return None  # deterministic and free: nothing to save by caching


@provider("sim")
def _simulated(name: str, params: dict[str, object]) -> Provider:
    from conflicts.providers.personas import PERSONAS

    if name not in PERSONAS:
        raise ModelError(
            f"unknown simulated persona 'sim/{name}' (available: "
            + ", ".join(f"sim/{p}" for p in PERSONAS)
            + ")",
            loc=("model",),
        )
    seed = params.get("seed", 0)
    return SimulatedProvider(
        model=f"sim/{name}", persona_name=name, seed=seed if isinstance(seed, int) else 0
    )


# the run's settings an OpenAI-style request carries, in the settings' own order
REQUEST_PARAMS = tuple(name for name in RunSettings.model_fields if name in REQUEST_FIELDS)


def api_key(params: dict[str, object], default_env: str, required: bool = True) -> str:
    """The key from the environment: it is used, never recorded (only the variable's name is)."""
    env = str(params.get("api_key_env") or default_env)
    key = os.environ.get(env, "")
    if not key and (required or params.get("api_key_env")):
        raise ModelError(
            f"no API key: set {env}, or name another variable with --api-key-env", loc=("model",)
        )
    return key or "not-needed"


def request_params(params: dict[str, object], supported: tuple[str, ...]) -> dict[str, Any]:
    """The run's parameters this API takes, then its `-p` fields, sent as given."""
    chosen = {k: params[k] for k in supported if params.get(k) is not None}
    extra = params.get("extra")
    return {**chosen, **extra} if isinstance(extra, dict) else chosen


# What ihsim writes into every request itself, and what its own options set. `tool_choice` is
# ihsim's ("auto" wherever tools are offered) unless `-p tool_choice=...` says otherwise.
_WRITTEN = frozenset({"model", "messages", "system", "tools", "stream", "n"})
_OPTIONS = {name: "--" + name.replace("_", "-") for name in REQUEST_FIELDS}


def extra_fields(pairs: Iterable[str]) -> dict[str, Any]:
    """`-p KEY=VALUE` options as request fields (reasoning effort, thinking budgets, a server's
    own knobs), VALUE read as JSON where it parses (numbers, true, objects), else as text."""
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, equals, raw = pair.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ArgumentError(f"-p {pair!r}: expected KEY=VALUE", loc=("param",))
        if key in _WRITTEN:
            raise ArgumentError(f"-p {key}: ihsim writes this field itself", loc=("param",))
        if key in _OPTIONS:
            raise ArgumentError(f"-p {key}: use {_OPTIONS[key]}", loc=("param",))
        if key in fields:
            raise ArgumentError(f"-p {key}: given twice", loc=("param",))
        try:
            fields[key] = json.loads(raw, parse_constant=_not_a_number)
        except ValueError:
            fields[key] = raw
    return fields


def _not_a_number(token: str) -> None:
    """NaN and the infinities are not JSON: a server would refuse them, `runs --json` too."""
    raise ArgumentError(f"-p: {token} is not a number a request can carry", loc=("param",))


def _timeout(params: dict[str, object]) -> float:
    value = params.get("timeout")
    return float(value) if isinstance(value, int | float) else DEFAULT_TIMEOUT


def client_options(params: dict[str, object], key: str, sdk: ModuleType) -> dict[str, Any]:
    """What every SDK client gets: the key, the endpoint, a timeout, no retries of its own (the
    runner retries, so it can count attempts and adapt its concurrency), and the SDK's aiohttp
    transport: at a hundred connections httpx's pool spends more CPU per request than the rest of
    the request path together (measured by `make bench`). The transport's TLS context is the one
    `conflicts.providers.tls` built beside the SDK's import."""
    base_url = params.get("base_url")
    timeout = _timeout(params)
    return {
        "api_key": key,
        "base_url": str(base_url) if base_url else None,
        "max_retries": 0,
        "timeout": timeout,
        "http_client": sdk.DefaultAioHttpClient(timeout=timeout, verify=shared_context()),
    }


def _openai_client(
    name: str, model: str, params: dict[str, object], key: str, limit_field: str = "max_tokens"
) -> Provider:
    import openai

    from conflicts.providers.openai_chat import OpenAIProvider

    client = openai.AsyncOpenAI(**client_options(params, key, openai))
    request = request_params(params, REQUEST_PARAMS)
    if "max_tokens" in request:  # from --max-tokens; a -p field of the new name wins
        request.setdefault(limit_field, request.pop("max_tokens"))
    return OpenAIProvider(model, name, client, request, (key,))


OPENAI_MODULES = ("openai", "conflicts.providers.openai_chat")
OPENAI_KEY, ANTHROPIC_KEY = "OPENAI_API_KEY", "ANTHROPIC_API_KEY"
ANTHROPIC_MODULES = ("anthropic", "conflicts.providers.anthropic_messages")


def _openai_key(name: str, params: dict[str, object]) -> str:
    return api_key(params, OPENAI_KEY)


@provider("openai", check=_openai_key, loads=OPENAI_MODULES, can_judge=True, key_env=OPENAI_KEY)
def _openai(name: str, params: dict[str, object]) -> Provider:
    # OpenAI's reasoning models refuse `max_tokens`; every chat model takes its successor.
    key = _openai_key(name, params)
    return _openai_client(name, f"openai/{name}", params, key, "max_completion_tokens")


def _compatible_key(name: str, params: dict[str, object]) -> str:
    if not params.get("base_url"):
        raise ModelError(
            f"openai-compatible/{name} needs --base-url, e.g. http://127.0.0.1:8000/v1",
            loc=("base_url",),
        )
    return api_key(params, OPENAI_KEY, required=False)


@provider(
    "openai-compatible",
    check=_compatible_key,
    loads=OPENAI_MODULES,
    can_judge=True,
    key_env=OPENAI_KEY,
)
def _openai_compatible(name: str, params: dict[str, object]) -> Provider:
    key = _compatible_key(name, params)
    return _openai_client(name, f"openai-compatible/{name}", params, key)


def _anthropic_key(name: str, params: dict[str, object]) -> str:
    return api_key(params, ANTHROPIC_KEY)


@provider(
    "anthropic",
    check=_anthropic_key,
    loads=ANTHROPIC_MODULES,
    can_judge=True,
    key_env=ANTHROPIC_KEY,
)
def _anthropic(name: str, params: dict[str, object]) -> Provider:
    import anthropic

    from conflicts.providers.anthropic_messages import AnthropicProvider

    key = _anthropic_key(name, params)
    client = anthropic.AsyncAnthropic(**client_options(params, key, anthropic))
    limits = request_params(params, ("temperature", "max_tokens", "stop"))  # no seed here
    if "stop" in limits:
        limits["stop_sequences"] = limits.pop("stop")
    request = {"max_tokens": ANTHROPIC_MAX_TOKENS, **limits}
    made = AnthropicProvider(f"anthropic/{name}", name, client, request, (key,))
    made.prompt_cache = params.get("prompt_cache") is not False
    return made


def judging_prefixes() -> list[str]:
    """The prefixes of providers that declare they can judge."""
    return sorted(f"{prefix}/" for prefix, r in _REGISTRY.items() if r.can_judge)
