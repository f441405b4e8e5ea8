"""Model names to providers: `sim/<persona>` today; a registry so more plug in the same way.

A provider answers one turn: given the conversation so far, the model's next assistant message
(text and/or tool calls). The runner owns the tool loop. SDKs are imported lazily inside the
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
class Turn:
    message: Message
    usage: Usage
    reasoning: str | None = None


class Provider(Protocol):
    model: str

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn: ...


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
    """A simulated persona behind the provider interface: no network, no tokens.

    Its first turn makes the chosen move's tool calls, if any; the next gives the move's answer.
    """

    model: str
    persona_name: str
    seed: int

    async def turn(self, dilemma: Dilemma, conversation: list[Message], epoch: int) -> Turn:
        from conflicts.personas import PERSONAS

        move = PERSONAS[self.persona_name].choose(dilemma, epoch, self.seed)
        acted = any(m.role == "assistant" for m in conversation[len(dilemma.messages) :])
        if move.calls and not acted:
            return Turn(Message(role="assistant", content="", tool_calls=move.calls), Usage())
        return Turn(Message(role="assistant", content=move.say), Usage())


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
