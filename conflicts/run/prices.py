"""Token prices and what a run has cost: a YAML table a user can edit or replace."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field

from conflicts.errors import ModelError
from conflicts.store.transcript import Usage
from hierarchy.errors import InputError
from hierarchy.source import load_model
from hierarchy.spec import Strict

DEFAULT_PRICES = Path(__file__).parent / "prices.yaml"


class PriceError(InputError):
    """A price file that cannot be used."""


class Price(Strict):
    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(ge=0, description="USD per million output tokens")

    def cost(self, usage: Usage) -> float:
        return (usage.input_tokens * self.input + usage.output_tokens * self.output) / 1e6


class PriceTable(Strict):
    models: dict[str, Price]

    def price(self, model: str) -> Price | None:
        """The exact entry, else the longest `prefix*` pattern the model name starts with."""
        if model in self.models:
            return self.models[model]
        matches = [p for p in self.models if p.endswith("*") and model.startswith(p[:-1])]
        return self.models[max(matches, key=len)] if matches else None

    def cost(self, model: str, usage: Usage) -> float | None:
        price = self.price(model)
        return None if price is None else price.cost(usage)


@cache
def load_prices(path: Path = DEFAULT_PRICES) -> PriceTable:
    return load_model(path, PriceTable, PriceError, lambda table: table)


def require_prices(table: PriceTable, models: list[str]) -> None:
    """A budget needs a price for every model; say which lacks one before anything starts."""
    for model in models:
        if table.price(model) is None:
            raise ModelError(
                f"no price for {model!r}: add it to a price file (see conflicts/run/prices.yaml) "
                "and pass --prices FILE, or drop --max-cost",
                loc=("max_cost",),
            )
