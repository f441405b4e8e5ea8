"""The option vocabulary every command shares: one spelling, one short flag, one meaning.

Each option a second command takes is a bundle here, so `-c` is `--max-connections` wherever it
appears and `-f` is always `--family`. Spellings that drifted before keep working as hidden
aliases (`ALIASES`), so nobody's scripts break; `tests/test_cli_vocabulary.py` checks both.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from conflicts.errors import Interrupted
from conflicts.inert import inert
from hierarchy.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]
DEFAULT_DB = Path("results") / "ihsim.db"
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# old spelling -> (command, the option it now spells), kept out of the help
ALIASES: dict[str, tuple[str, str]] = {
    "--connections": ("classify", "--max-connections"),
    "-f": ("report, export", "--format (now -F; -f is --family)"),
}


def say(text: str, err: bool = False) -> None:
    """click.echo for text that may hold what a file or a model wrote: made inert (escape
    sequences shown, never obeyed) on stderr, which only people read, and on stdout when it is
    a terminal; data piped to a file stays exact."""
    to_terminal = err or sys.stdout.isatty()
    click.echo(inert(text) if to_terminal else text, err=err)


PIPED_WIDTH = 100_000  # columns of a table written anywhere but a terminal: none is ever cut


def table_console(file: Any = None) -> Any:
    """A rich console for tables: the terminal's width on a terminal; elsewhere (a pipe, a
    file) wide enough for any table, so no column is cut to '...' or wrapped."""
    from rich.console import Console

    if file is None:
        console = Console(soft_wrap=True)
        if console.is_terminal:
            return console
    return Console(file=file, width=PIPED_WIDTH, force_terminal=False)


class IhsimGroup(click.Group):
    """Turns input and usage errors anywhere below into one line and exit code 2, and Ctrl-C
    into one line saying what was kept and exit code 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            say(f"error: {exc}", err=True)
            ctx.exit(2)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            message = exc.format_message().rstrip(".")
            say(f"error: {message} (see {command} --help)", err=True)
            ctx.exit(exc.exit_code)
        except Interrupted as exc:
            say(f"interrupted: {exc}", err=True)
            ctx.exit(130)
        except sqlite3.Error as exc:  # a store that took its opening and then refused a write
            from conflicts.store.database import Store, failure

            reason = failure(exc)
            if reason is None:
                raise
            say(
                f"error: {Store.last_opened}: {reason}; what was committed before is kept", err=True
            )
            ctx.exit(2)
        except (KeyboardInterrupt, click.Abort):
            say("interrupted: nothing was half-written", err=True)
            ctx.exit(130)


def hidden_alias(*decls: str, to: str, **attrs: Any) -> Decorator[Any]:
    """An old spelling of the option whose parameter is `to`: it still works, and is not shown."""
    dest = f"alias_of_{to}"

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = kwargs.pop(dest)
            if value is not None:
                kwargs[to] = value
            return fn(*args, **kwargs)

        return click.option(*decls, dest, hidden=True, default=None, **attrs)(wrapper)  # type: ignore[return-value]

    return decorate


def db_option(fn: F) -> F:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        envvar="IHSIM_DB",
        show_default=True,
        help="The SQLite store (env: IHSIM_DB).",
    )(fn)


def output_option(
    help: str = "Write here instead of standard output.",
    required: bool = False,
    default: Path | None = None,
) -> Decorator[Any]:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        required=required,
        default=default,
        show_default=default is not None,
        help=help,
    )


def format_option(
    choices: tuple[str, ...], default: str | None, help: str | None = None
) -> Decorator[Any]:
    return click.option(
        "-F",
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=default is not None,
        help=help,
    )


def json_option(help: str) -> Decorator[Any]:
    return click.option("--json", "as_json", is_flag=True, help=help)


def quiet_option(fn: F) -> F:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar.")(fn)


class Finite(click.FloatRange):
    """A number in its range, never NaN or an infinity: NaN passes every comparison a range
    makes, and would switch a budget off or reach a JSON file as an invalid token."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Url(click.ParamType):
    """An http(s) URL with a host: anything else fails only after every retry, much later."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(str(value))
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError as exc:
            self.fail(f"{value!r} is not a URL: {exc}", param, ctx)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(f"{value!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1", param, ctx)
        return str(value)


BASE_URL = Url()
MAX_CONNECTIONS = 4096  # past this a machine runs out of sockets before a server runs out of slots
SEEDS = click.IntRange(-(2**63), 2**63 - 1)  # what a provider's seed field (int64) can carry


def seed_option(help: str | None = None, default: int = 0) -> Decorator[Any]:
    return click.option("-s", "--seed", type=SEEDS, default=default, show_default=True, help=help)


def family_option(help: str, required: bool = True) -> Decorator[Any]:
    return click.option("-f", "--family", "family_name", required=required, help=help)


def hierarchy_option(
    default: str | None = "model-spec", help: str = "Preset name or YAML file."
) -> Decorator[Any]:
    return click.option(
        "-H",
        "--hierarchy",
        "hierarchy_name",
        default=default,
        show_default=default is not None,
        help=help,
    )


def epochs_option(help: str | None = None) -> Decorator[Any]:
    from conflicts.store.run_defaults import MAX_EPOCHS

    bounded = click.IntRange(1, MAX_EPOCHS)
    return click.option("-e", "--epochs", type=bounded, default=1, show_default=True, help=help)


def max_turns_option(help: str) -> Decorator[Any]:
    from conflicts.store.run_defaults import MAX_TURNS

    bounded = click.IntRange(1, 1000)
    return click.option(
        "--max-turns", type=bounded, default=MAX_TURNS, show_default=True, help=help
    )


def prices_option(help: str) -> Decorator[Any]:
    where = click.Path(dir_okay=False, path_type=Path)
    return click.option("--prices", "prices_file", type=where, default=None, help=help)


def poll_interval_option(fn: F) -> F:
    return click.option(
        "--poll-interval",
        type=Finite(min=0.01),
        default=30.0,
        show_default=True,
        help="Seconds between looks at batches in progress (--batch).",
    )(fn)


def models_option(help: str) -> Decorator[Any]:
    return click.option("-m", "--model", "models", multiple=True, help=help)


def max_connections_option(default: int, help: str) -> Decorator[Any]:
    def decorate(fn: F) -> F:
        bounded = click.IntRange(1, MAX_CONNECTIONS)
        fn = hidden_alias("--connections", to="max_connections", type=bounded)(fn)
        return click.option(
            "-c",
            "--max-connections",
            type=bounded,
            default=default,
            show_default=True,
            help=help,
        )(fn)

    return decorate


def temperature_option(
    type: click.ParamType | type[float], default: float | None, help: str
) -> Decorator[Any]:
    return click.option(
        "-t",
        "--temperature",
        type=type,
        default=default,
        show_default=default is not None,
        help=help,
    )


def max_tokens_option(default: int | None, help: str) -> Decorator[Any]:
    return click.option(
        "--max-tokens",
        type=click.IntRange(1, 10_000_000),
        default=default,
        show_default=default is not None,
        help=help,
    )


def timeout_option(help: str) -> Decorator[Any]:
    return click.option("--timeout", type=Finite(0.1, 86_400), default=None, help=help)


def api_key_env_option(help: str) -> Decorator[Any]:
    return click.option("--api-key-env", default=None, help=help)


def no_cache_option(help: str) -> Decorator[Any]:
    return click.option("--no-cache", is_flag=True, help=help)


class ClassifierName(click.ParamType):
    """A classifier's name, the choices read from the classifier registry (so one a lab
    registers from its own package is offered too). Commands that read stored verdicts also
    take one judge's verdicts, `judge:MODEL`, and names no longer registered."""

    name = "classifier"

    def __init__(self, stored: bool) -> None:
        self.stored = stored

    def names(self) -> list[str]:
        from conflicts.classify.registry import classifier_names

        return classifier_names(aliases=not self.stored)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join([*self.names(), *(["judge:MODEL"] if self.stored else [])]) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or self.stored or value in self.names():
            return value
        self.fail(f"{value!r} is not one of {', '.join(self.names())}", param, ctx)


class ClassifierOption(click.Option):
    """`--classifier` whose help, where it runs classifiers, lists each registered one with
    what it does (its `summary`), read from the registry when the help is shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None or not isinstance(self.type, ClassifierName) or self.type.stored:
            return record
        from conflicts.classify.registry import get_classifier

        described = []
        for name in self.type.names():
            chosen = get_classifier(name)
            if chosen.name == name:
                also = "".join(f" (= {alias})" for alias in chosen.aliases)
                described.append(f"{name}{also}: {chosen.summary or 'no summary'}")
        return record[0], "; ".join(described) + ". " + record[1]


def classifier_option(
    stored: bool, default: str | None = "evidence", help: str | None = None
) -> Decorator[Any]:
    return click.option(
        "--classifier",
        "classifier_name",
        cls=ClassifierOption,
        type=ClassifierName(stored),
        default=default,
        show_default=default is not None,
        help=help,
    )


class FloatOrNone(click.ParamType):
    """A number, or `none` for an option whose field is then left out of the request."""

    name = "float|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, float):
            return value
        if str(value).strip().lower() == "none":
            return None
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor 'none'", param, ctx)
        return TEMPERATURE.convert(number, param, ctx)


TEMPERATURE = Finite(0, 2)  # the widest range a provider takes (OpenAI's)


def open_store(db: Path, must_exist: bool = True) -> Any:
    from conflicts.errors import StoreError
    from conflicts.store.database import Store

    if must_exist and not db.exists():
        raise StoreError("no such database; start with `ihsim run`", file=str(db))
    return Store(db)
