"""The defaults of a run's settings, stated once, in a module light enough for the command
line's option definitions (`ihsim --help` loads no pydantic). `run_settings` types them."""

from __future__ import annotations

SEED = 0
MAX_TURNS = 10
# What the providers use when a setting is left out, shown in the CLI's help.
TIMEOUT = 120.0
ANTHROPIC_MAX_TOKENS = 1024  # the Messages API requires a limit; --max-tokens overrides it
MAX_EPOCHS = 100_000  # per run; an epoch beyond it, given or imported, is a mistake
