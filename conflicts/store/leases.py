"""Leases: which process is working on which block of a run, so two `ihsim run` processes on one
store share the run instead of both paying for every request.

A block is BLOCK consecutive transcripts of the run's plan (dilemma, then model, then epoch). A
process takes a block before starting any of its transcripts. A lease ends when its holder
releases it (at the end of its run, however that ends), when it expires (its holder renews it
while it runs, so it expires only if the holder has stopped without releasing: killed, or on a
machine that lost the store), or at once when its holder was a process on this machine that no
longer runs (a SIGKILL, then the same command again).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from dataclasses import dataclass, field

from conflicts.atomic import running
from conflicts.store.database import Store

BLOCK = 64  # transcripts per lease: a claim is one short write per BLOCK transcripts
LEASE_S = 60.0  # how long a lease lasts unless renewed; renewed every third of it


@dataclass
class Holder:
    """This process, as a lease names it: host, pid, and a token of its own for this run."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def name(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"


def _gone(holder: str, host: str) -> bool:
    """Whether the holder was a process on this machine that no longer runs."""
    their_host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return their_host == host and pid.isdigit() and not running(int(pid))


def claim(store: Store, run_id: str, block: int, me: Holder) -> str | None:
    """Take `block` for this process; None when taken, else the holder working on it."""
    now = time.time()
    with store.transaction():
        row = store.db.execute(
            "SELECT holder, expires FROM leases WHERE run_id = ? AND block = ?", (run_id, block)
        ).fetchone()
        if row is not None and row[0] != me.name and row[1] > now and not _gone(row[0], me.host):
            return str(row[0])
        store.db.execute(
            "INSERT OR REPLACE INTO leases (run_id, block, holder, expires) VALUES (?, ?, ?, ?)",
            (run_id, block, me.name, now + LEASE_S),
        )
    return None


def renew(store: Store, run_id: str, me: Holder) -> None:
    with store.transaction():
        store.db.execute(
            "UPDATE leases SET expires = ? WHERE run_id = ? AND holder = ?",
            (time.time() + LEASE_S, run_id, me.name),
        )


def give_back(store: Store, run_id: str, block: int, me: Holder) -> None:
    """Release one block, all of whose transcripts are written; inside the caller's
    transaction (the writer's, which wrote the last of them)."""
    store.db.execute(
        "DELETE FROM leases WHERE run_id = ? AND block = ? AND holder = ?",
        (run_id, block, me.name),
    )


async def keep(store: Store, run_id: str, me: Holder) -> None:
    """Renew this process's leases every third of their life until cancelled: a block whose
    last transcripts are still in flight (a slow model, retries) stays this process's."""
    while True:
        await asyncio.sleep(LEASE_S / 3)
        renew(store, run_id, me)


def release(store: Store, run_id: str, me: Holder) -> None:
    with store.transaction():
        store.db.execute("DELETE FROM leases WHERE run_id = ? AND holder = ?", (run_id, me.name))
