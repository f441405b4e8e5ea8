"""YAML loading that remembers the line of every value, and pydantic errors turned into InputErrors.

Researchers write hierarchies and families by hand; an error must point at the line they wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hierarchy.errors import InputError, Location, message_of

Lines = dict[Location, int]
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=InputError)
T = TypeVar("T")


MAX_BYTES = 8 << 20  # a hand-written hierarchy or family is a few KB; prices a few hundred
MAX_VALUES = 200_000  # values once aliases are expanded: a "billion laughs" file is refused
MAX_DEPTH = 64  # nesting; the composer and the validator recurse, and stop far deeper


class _Walk:
    """Records the line of every value, counting values as aliases expand them and refusing a
    key written twice in one mapping (YAML lets the last one win silently)."""

    def __init__(self, file: str, error: type[InputError]) -> None:
        self.file, self.error = file, error
        self.lines: Lines = {}
        self.values = 0

    def record(self, node: yaml.Node, loc: Location) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.error(
                f"more than {MAX_VALUES:,} values once aliases are expanded", file=self.file
            )
        if len(loc) > MAX_DEPTH:
            raise self.error(
                f"nested more than {MAX_DEPTH} levels deep", file=self.file, line=_line(node)
            )
        self.lines[loc] = _line(node)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen and key.tag != "tag:yaml.org,2002:merge":
                        raise self.error(
                            f"key {key.value!r} is given twice (first on line {seen[key.value]})",
                            file=self.file,
                            line=_line(key),
                            loc=(*loc, key.value),
                        )
                    seen[key.value] = _line(key)
                    self.record(value, (*loc, key.value))
                    self.lines[(*loc, key.value)] = _line(key)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.record(item, (*loc, index))


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def parse_yaml(text: str, file: str, error: type[E]) -> tuple[Any, Lines]:
    """Parse one YAML document; return the data and a map from location to line number.

    Only plain data (safe loading), within limits of size, nesting and alias expansion."""
    if len(text) > MAX_BYTES:
        raise error(
            f"{len(text):,} characters; a YAML file here is at most {MAX_BYTES:,}", file=file
        )
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise error("file is empty", file=file, line=1)
        walk = _Walk(file, error)
        walk.record(node, ())
        return loader.construct_document(node), walk.lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise error(f"malformed YAML: {problem}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:  # a NUL byte, a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        raise error(
            f"malformed YAML: character #x{exc.character:04x} is not allowed", file=file, line=line
        ) from None
    except RecursionError:  # the composer recurses once per level, before the walk can count
        raise error(
            f"malformed YAML: nested more than {MAX_DEPTH} levels deep", file=file
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def line_of(loc: Location, lines: Lines) -> int | None:
    """The line of the deepest recorded prefix of `loc`."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def locate(exc: InputError, file: str, lines: Lines) -> InputError:
    """Fill in file and line of an error raised with only a field location."""
    exc.file = exc.file or file
    if exc.line is None:
        exc.line = line_of(exc.loc, lines)
    return exc


def validate(model: type[M], data: Any, file: str, lines: Lines, error: type[E]) -> M:
    """Validate `data` against `model`, reporting the first problem as one located line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if isinstance(p, str | int))
        loc = _strip_union_tags(loc, data)
        message = message_of(first)
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        raise error(message, file=file, line=line_of(loc, lines), loc=loc) from None


def _strip_union_tags(loc: Location, data: Any) -> Location:
    """Drop pydantic's union-member names from a location, keeping the path that exists in data."""
    kept: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if _has(node, part):
            node = node[part]
            kept.append(part)
        elif not isinstance(node, dict | list) or index == len(loc) - 1:
            kept.append(part)  # a missing key is always last; union tags sit in between
    return tuple(kept)


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def load_model(path: Path, model: type[M], error: type[E], build: Callable[[M], T]) -> T:
    """Read, parse and validate a YAML file into `model`, then `build` the domain object from it.

    Errors that `build` raises with only a field location get the file and line filled in.
    """
    file = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:  # before reading it all in
            raise error(f"larger than {MAX_BYTES >> 20} MB: not a hand-written file", file=file)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("no such file", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read: {exc}", file=file) from None
    data, lines = parse_yaml(text, file, error)
    spec = validate(model, data, file, lines, error)
    try:
        return build(spec)
    except InputError as exc:
        raise locate(exc, file, lines) from None


@dataclass(frozen=True)
class NamedFiles(Generic[T]):
    """Data files of one kind (hierarchy presets, scenario families): the built-in ones by name,
    from a folder of `NAME.yaml`, loaded once; any other YAML file by its path."""

    folder: Path
    load_file: Callable[[Path], T]
    error: type[InputError]
    kind: str  # what the names name, for the error: "hierarchy", "family"
    not_builtin: str  # how the error says it is none of the built-ins: "not a preset"
    _loaded: dict[str, T] = field(default_factory=dict, compare=False, repr=False)

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.yaml"))

    def load(self, name_or_path: str) -> T:
        """A built-in by name, or a YAML file by path (a slash, a .yaml/.yml suffix, or a file
        that exists)."""
        if name_or_path in self.names():
            if name_or_path not in self._loaded:
                self._loaded[name_or_path] = self.load_file(self.folder / f"{name_or_path}.yaml")
            return self._loaded[name_or_path]
        path = Path(name_or_path)
        if path.suffix in {".yaml", ".yml"} or "/" in name_or_path or path.exists():
            return self.load_file(path)
        raise self.error(
            f"unknown {self.kind} {name_or_path!r}: {self.not_builtin} "
            f"({', '.join(self.names())}) and not a .yaml file",
            loc=(self.kind,),
        )
