"""What a run asks of its models, typed: every setting, its default, and what it is for, once.

A run's settings are recorded with it (`runs.params`) and hashed into its id and into every
cached request's key, so `params()` writes exactly the dict ihsim has always written: `seed` and
`max_turns` always, the others only when given. Precedence, highest first:

1. an option given on the command line (`ihsim run -t 0.7`);
2. on `ihsim run --resume RUN_ID`, the settings the run was started with, which no option may
   change (every setting is part of the run's id: `RESUME_FIXED`);
3. the defaults (`run_defaults`, light enough for the CLI's option definitions).

Each field says what it is for, in its metadata: `request` (sent to the provider where its API
takes it), `pools` (runs that differ only in it pool cleanly in a report: more seeds are more
samples), `shown` (listed by `ihsim runs` when it differs from its default).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from conflicts.store.run_defaults import MAX_TURNS, SEED


def _role(request: bool = False, pools: bool = False, shown: bool = True) -> dict[str, Any]:
    return {"request": request, "pools": pools, "shown": shown}


class RunSettings(BaseModel):
    """The settings of one run, as `ihsim run` takes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(SEED, json_schema_extra=_role(request=True, pools=True))
    max_turns: int = Field(MAX_TURNS, ge=1, json_schema_extra=_role())
    temperature: float | None = Field(None, json_schema_extra=_role(request=True))
    max_tokens: int | None = Field(None, ge=1, json_schema_extra=_role(request=True))
    # stop sequences: OpenAI-style `stop`, Anthropic's `stop_sequences`
    stop: list[str] | None = Field(None, min_length=1, json_schema_extra=_role(request=True))
    base_url: str | None = Field(None, json_schema_extra=_role())
    # where the key came from is not a setting of the answers: it pools and is not shown
    api_key_env: str | None = Field(None, json_schema_extra=_role(pools=True, shown=False))
    timeout: float | None = Field(None, gt=0, json_schema_extra=_role(pools=True))
    # False: Anthropic requests carry no cache breakpoint (`--no-prompt-cache`); the answers
    # are the same either way, so such runs pool, and only the bill differs
    prompt_cache: bool | None = Field(None, json_schema_extra=_role(pools=True))
    # `-p KEY=VALUE` request fields, sent as given; shown as their own KEY=VALUE
    extra: dict[str, Any] | None = Field(None, json_schema_extra=_role(shown=False))

    def params(self) -> dict[str, Any]:
        """The recorded dict: what run ids and cache keys hash."""
        always = {"seed": self.seed, "max_turns": self.max_turns}
        return always | self.model_dump(exclude_none=True, exclude=set(always) | _empty(self))

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RunSettings:
        """A recorded dict read back; the defaults fill what older runs left out."""
        return cls.model_validate(params)

    def shown(self) -> list[str]:
        """`KEY=VALUE` for what differs from the defaults, then each `-p` field as given."""
        defaults = RunSettings()
        differ = {
            name: getattr(self, name)
            for name in sorted(with_role("shown"))
            if getattr(self, name) != getattr(defaults, name)
        }
        return [f"{k}={_text(v)}" for k, v in (differ | (self.extra or {})).items()]


class ImportedSettings(BaseModel):
    """What a run of transcripts made elsewhere (`ihsim import`) records instead: where they
    came from and what they were placed in. Nothing was asked of a model, so nothing pools."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    imported: str  # the source's format: jsonl, eval, json
    family: str
    hierarchy: str

    def params(self) -> dict[str, Any]:
        return self.model_dump()

    def shown(self) -> list[str]:
        return [f"{k}={v}" for k, v in sorted(self.params().items())]


def settings_of(params: dict[str, Any]) -> RunSettings | ImportedSettings:
    """A run's recorded settings, typed by the kind of run that recorded them."""
    if "imported" in params:
        return ImportedSettings.model_validate(params)
    return RunSettings.from_params(params)


def _empty(settings: RunSettings) -> set[str]:
    return set() if settings.extra else {"extra"}


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def with_role(role: str) -> frozenset[str]:
    """The settings whose metadata gives them this role."""
    return frozenset(
        name
        for name, info in RunSettings.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(role)
    )


REQUEST_FIELDS = with_role("request")
POOLABLE = with_role("pools")
# what `--resume` keeps as the run was started with: every setting, and the epochs
RESUME_FIXED = frozenset({*RunSettings.model_fields, "epochs"})
