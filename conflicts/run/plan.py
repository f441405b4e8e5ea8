"""Planning a run: its dilemma set validated and recorded in one transaction, under an id that
hashes its inputs (dilemma file content, models, epochs, parameters), so the same command finds
the same run again.

A run on SDK models is planned in a second process while this one loads the SDK: both are
CPU-bound, so a thread gains nothing under the GIL, and a child process on another core does (the
first request goes out that much sooner). The child answers on stdout in JSON: the run id, or the
located input error, which is raised here unchanged. This module imports little, for the child's
sake.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import conflicts
from conflicts.providers.registry import check_model
from conflicts.run.garbage_collection import import_quietly
from conflicts.scenarios.dilemma import read_dilemma_lines
from conflicts.store.database import RunInfo, Store, now
from hierarchy.errors import InputError


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_id_for(source_sha256: str, models: list[str], epochs: int, params: dict[str, Any]) -> str:
    key = json.dumps([source_sha256, sorted(models), epochs, params], sort_keys=True)
    return "run-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def plan_run(
    store: Store,
    path: Path,
    models: list[str],
    epochs: int,
    params: dict[str, Any],
    check: bool = True,
    sha: str | None = None,
) -> RunInfo:
    """Create the run and record its dilemmas in one transaction, or find it to resume.

    Models are checked (names, keys) before a new run is created, unless the caller already did
    (`check=False`); a run found again was checked when it was made, and builds its providers
    only if it has transcripts left to do. `sha`: the file's digest, if the caller has it (a
    large file takes seconds to hash)."""
    if sha is None:
        sha = file_sha256(path) if path.exists() else ""
    run_id = run_id_for(sha, models, epochs, params)
    if store.has_run(run_id):
        return store.run(run_id)
    if check:
        for model in models:
            check_model(model, params)
    info = RunInfo(
        id=run_id,
        created_at=now(),
        source=str(path),
        models=list(models),
        epochs=epochs,
        params=params,
        dilemma_count=0,
    )
    with store.transaction():
        if store.has_run(run_id):  # another process planned it while this one read the file
            return store.run(run_id)
        store.add_run(info, sha)
        count = store.add_dilemmas(run_id, ((d, line) for _, line, d in read_dilemma_lines(path)))
        store.set_dilemma_count(run_id, count)
    return store.run(run_id)


class PlanError(InputError):
    """An input error the planning process reported, already located (file, line, field)."""


def plan_beside(
    db: Path,
    path: Path,
    models: list[str],
    epochs: int,
    params: dict[str, Any],
    modules: list[str],
    sha: str,
) -> str:
    """Plan in a child process while importing `modules` here; the run id. Models must have been
    checked and the file hashed (`sha`): the child does neither again."""
    request = json.dumps(
        {
            "db": str(db),
            "path": str(path),
            "models": models,
            "epochs": epochs,
            "params": params,
            "sha": sha,
        }
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "conflicts.run.plan", request],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
    )
    try:
        import_quietly(modules)
        out, err = child.communicate()
    except BaseException:
        child.kill()
        child.wait()
        raise
    if child.returncode == 0:
        return str(json.loads(out)["run_id"])
    if child.returncode == 2:
        raise PlanError(json.loads(out)["error"])
    raise RuntimeError(f"planning the run failed (exit {child.returncode}): {err.strip()}")


def _child_env() -> dict[str, str]:
    """This environment, with this copy of ihsim first on the child's path."""
    root = str(Path(conflicts.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def main() -> None:
    request = json.loads(sys.argv[1])
    try:
        with Store(Path(request["db"])) as store:
            run = plan_run(
                store,
                Path(request["path"]),
                request["models"],
                request["epochs"],
                request["params"],
                check=False,
                sha=request["sha"],
            )
    except InputError as exc:
        print(json.dumps({"error": str(exc)}))
        sys.exit(2)
    print(json.dumps({"run_id": run.id}), flush=True)
    # The plan is committed and the answer out; the parent waits for this process to end.
    # Finalizing the interpreter (collecting every pydantic class, one by one) would add 30 ms.
    os._exit(0)


if __name__ == "__main__":
    main()
