"""Input errors of the measuring side; each is one located line on stderr and exit code 2."""

from __future__ import annotations

from hierarchy.errors import InputError


class FamilyError(InputError):
    """A scenario family file that cannot be used."""


class DilemmaFileError(InputError):
    """A dilemma JSONL file that is empty, corrupt or not ours."""


class ModelError(InputError):
    """A model name no provider knows, or a provider that cannot start."""


class StoreError(InputError):
    """A database that is not ours, or a run that is not in it."""


class ArgumentError(InputError):
    """Command-line arguments that do not go together."""


class Interrupted(Exception):
    """A command stopped by Ctrl-C: its message says what it kept; exit code 130."""


class OutputError(InputError):
    """An output path that cannot take the file: a device, a folder, a full or read-only disk."""
