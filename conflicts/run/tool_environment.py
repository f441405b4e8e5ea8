"""The simulated world a model acts in: tool calls answered from the family's script.

Nothing a model writes is executed. Its arguments are matched against each tool's scripted cases
and inserted into the scripted answer as inert text; a case may change the environment's state, so
writing a file changes what reading it returns later.
"""

from __future__ import annotations

from typing import Any

from conflicts.scenarios.dilemma import Dilemma, ToolCase
from conflicts.scenarios.evidence import compile_pattern
from conflicts.scenarios.templates import render


class Environment:
    """One transcript's tools and state; a fresh one per transcript."""

    def __init__(self, dilemma: Dilemma) -> None:
        self.tools = {tool.name: tool for tool in dilemma.tools}
        self.state = dict(dilemma.environment)

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """The scripted answer to one call; unknown tools and unmatched arguments get an error."""
        tool = self.tools.get(name)
        if tool is None:
            return f"error: there is no tool named {name!r}"
        case = next((c for c in tool.results if _matches(c, arguments)), None)
        if case is None:
            return f"error: {name} could not handle those arguments"
        for key, template in case.sets.items():
            self.state[key] = render(template, self._values(arguments))
        return render(case.returns, self._values(arguments))

    def _values(self, arguments: dict[str, Any]) -> Blank:
        values = Blank({f"state.{k}": v for k, v in self.state.items()})
        values.update({f"arg.{k}": _text(v) for k, v in arguments.items()})
        return values


class Blank(dict[str, str]):
    """An argument the model left out, or state not yet set, reads as empty text."""

    def __missing__(self, name: str) -> str:
        return ""


def _matches(case: ToolCase, arguments: dict[str, Any]) -> bool:
    return all(
        compile_pattern(pattern).search(_text(arguments.get(arg, "")))
        for arg, pattern in case.when.items()
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
