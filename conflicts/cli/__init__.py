"""The `ihsim` command line: a thin shell over functions the tests call directly.

- `group`: the `ihsim` group; bad input anywhere below is one line on stderr and exit code 2.
- `options`: the option vocabulary every command shares, and the old spellings kept as aliases.
- `scenarios`: `hierarchy`, `families`, `generate`.
- `runs`: `run`, `smoke`, `runs`, `import`.
- `estimate`: `estimate`, the price of a run before it runs.
- `labels`: `classify`, `label`, `validate`.
- `reports`: `report`, `compare`, `export`.
- `power`: `power`, how many dilemmas a comparison needs.

Commands import what they use when they run, so `ihsim --help` loads no SDK.

May import: every area.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """`conflicts.cli:main`, the console script, loaded when asked for."""
    if name == "main":
        from conflicts.cli.group import main

        return main
    raise AttributeError(name)
