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
    """One model's prices. Cached input is billed apart where the provider does: reads from
    the prompt cache (`cache_read`) and, at Anthropic, writes to it (`cache_write`); unset, a
    cached token costs what an input token does. `batch` multiplies every price for requests
    sent through the provider's batch API (both providers bill them at half)."""

    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(ge=0, description="USD per million output tokens")
    cache_read: float | None = Field(None, ge=0, description="USD per million cache-read tokens")
    cache_write: float | None = Field(
        None, ge=0, description="USD per million tokens written to the prompt cache"
    )
    batch: float = Field(0.5, ge=0, le=1, description="price multiplier in the batch API")

    def cost(self, usage: Usage, batch: bool = False) -> float:
        read, written = usage.cache_read_tokens, usage.cache_write_tokens
        plain = max(0, usage.input_tokens - read - written)
        dollars = (
            plain * self.input
            + read * (self.input if self.cache_read is None else self.cache_read)
            + written * (self.input if self.cache_write is None else self.cache_write)
            + usage.output_tokens * self.output
        ) / 1e6
        return dollars * self.batch if batch else dollars


class PriceTable(Strict):
    models: dict[str, Price]

    def price(self, model: str) -> Price | None:
        """The exact entry, else the longest `prefix*` pattern the model name starts with."""
        if model in self.models:
            return self.models[model]
        matches = [p for p in self.models if p.endswith("*") and model.startswith(p[:-1])]
        return self.models[max(matches, key=len)] if matches else None

    def cost(self, model: str, usage: Usage, batch: bool = False) -> float | None:
        price = self.price(model)
        return None if price is None else price.cost(usage, batch)


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
