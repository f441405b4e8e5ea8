"""Planning a run in a second process while this one loads the providers' SDKs.

Planning (reading, validating and recording the dilemma file) and importing an SDK (`openai`
takes 0.4-0.9 s here) are both CPU-bound, so a thread gains nothing under the GIL; a child
process on another core does, and the first request goes out that much sooner. The child writes
the plan in one transaction, as `plan_run` always does, and answers on stdout in JSON: the run
id, or the located input error, which is raised here unchanged.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import conflicts
from hierarchy.errors import InputError


class PlanError(InputError):
    """An input error the planning process reported, already located (file, line, field)."""


def plan_beside(
    db: Path,
    path: Path,
    models: list[str],
    epochs: int,
    params: dict[str, Any],
    modules: list[str],
) -> str:
    """Plan in a child process while importing `modules` here; the run id. Models must have been
    checked: the child does not build providers."""
    request = json.dumps(
        {"db": str(db), "path": str(path), "models": models, "epochs": epochs, "params": params}
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "conflicts.planner", request],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
    )
    try:
        for module in modules:
            importlib.import_module(module)
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
    from conflicts.runner import plan_run
    from conflicts.store import Store

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
            )
    except InputError as exc:
        print(json.dumps({"error": str(exc)}))
        sys.exit(2)
    print(json.dumps({"run_id": run.id}))


if __name__ == "__main__":
    main()
