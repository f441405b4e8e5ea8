"""Model names to providers: `sim/<persona>` today; a registry so more plug in the same way.

A provider turns a dilemma into the messages a model added. SDKs are imported lazily inside the
factories that need them, so `ihsim --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from conflicts.dilemma import Dilemma, Message
from conflicts.errors import ModelError
from conflicts.transcript import Usage


@dataclass
class Completion:
    messages: list[Message]
    final_answer: str
    usage: Usage
    reasoning: str | None = None


class Provider(Protocol):
    model: str

    async def complete(self, dilemma: Dilemma, epoch: int) -> Completion: ...


Factory = Callable[[str, dict[str, object]], Provider]
_FACTORIES: dict[str, Factory] = {}


def provider(prefix: str) -> Callable[[Factory], Factory]:
    """Register a factory for model names `prefix/<name>`."""

    def register(factory: Factory) -> Factory:
        _FACTORIES[prefix] = factory
        return factory

    return register


def make_provider(model: str, params: dict[str, object] | None = None) -> Provider:
    """The provider for a model name like `sim/deferential`; unknown names are input errors."""
    prefix, sep, name = model.partition("/")
    if not sep or not name:
        raise ModelError(f"model {model!r} is not of the form PROVIDER/NAME", loc=("model",))
    if prefix not in _FACTORIES:
        known = ", ".join(sorted(_FACTORIES))
        raise ModelError(
            f"unknown provider {prefix!r} in {model!r} (available: {known})", loc=("model",)
        )
    return _FACTORIES[prefix](name, params or {})


@dataclass
class SimulatedProvider:
    """A simulated persona behind the provider interface; no network, no tokens."""

    model: str
    persona_name: str
    seed: int

    async def complete(self, dilemma: Dilemma, epoch: int) -> Completion:
        from conflicts.personas import PERSONAS

        messages = PERSONAS[self.persona_name].respond(dilemma, epoch, self.seed)
        return Completion(messages=messages, final_answer=messages[-1].content, usage=Usage())


@provider("sim")
def _simulated(name: str, params: dict[str, object]) -> Provider:
    from conflicts.personas import PERSONAS

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
