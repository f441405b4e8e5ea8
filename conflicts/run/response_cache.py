"""The response cache: a request already answered is served from the store, with no call.

A request is the model and everything that shapes its answer: provider, endpoint and request
parameters, the conversation so far, the tools offered, and the epoch (so epochs stay independent
samples). Only successful turns are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from conflicts.scenarios.dilemma import Message, ToolSpec
from conflicts.store.database import Store, now
from conflicts.store.transcript import Turn


def request_key(
    fingerprint: dict[str, Any], conversation: list[Message], tools: list[ToolSpec], epoch: int
) -> str:
    request = {
        "fingerprint": fingerprint,
        "messages": [m.model_dump(exclude_defaults=True) for m in conversation],
        "tools": [t.model_dump() for t in tools],
        "epoch": epoch,
    }
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ResponseCache:
    """Reads answer from the store unless `read` is off (`--no-cache`); answers are always kept.

    New answers wait in memory until `write`, which callers run inside the transaction that
    commits their results: one commit per batch instead of one per answer. `on_put` tells the
    caller an answer is waiting, so one paid for is not left unwritten for long."""

    def __init__(self, store: Store, read: bool = True) -> None:
        self.store = store
        self.read = read
        self.hits = 0
        self._pending: dict[str, tuple[str, Turn]] = {}
        self.on_put: Callable[[], object] | None = None

    def get(self, key: str) -> Turn | None:
        if not self.read:
            return None
        if (waiting := self._pending.get(key)) is not None:
            self.hits += 1
            return waiting[1].model_copy(update={"cached": True})
        row = self.store.db.execute("SELECT turn FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.hits += 1
        return Turn.model_validate_json(row[0]).model_copy(update={"cached": True})

    def put(self, key: str, model: str, turn: Turn) -> None:
        self._pending[key] = (model, turn)
        if self.on_put is not None:
            self.on_put()

    def write(self) -> None:
        """Store the answers kept since the last write, in the caller's transaction."""
        if not self._pending:
            return
        created = now()
        self.store.db.executemany(
            "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)",
            [
                (key, model, turn.model_dump_json(exclude={"cached"}), created)
                for key, (model, turn) in self._pending.items()
            ],
        )
        self._pending.clear()
