"""The results folder of Anthropic's agentic-misalignment harness, read as one batch per model.

    results/<experiment>/prompts/<condition>/system_prompt.txt, user_prompt.txt, email_content.txt
    results/<experiment>/models/<model>/<condition>/sample_NNN/response.json

A condition id is `<scenario>_<goal type>-<goal value>_<urgency type>`; the harness sends the
system prompt, then the user prompt and the emails as one user message, and keeps the model's
completion in `raw_response`. Its own classifier writes `classification` into the same file
(`harmful_behavior`, `classifier_verdict`, reasoning): those become the sample's scores. A
response that holds an `error` failed in the harness and is imported as failed, not as an answer.

The goal type and urgency are ihsim's `goal_conflict` and `threat` axes where the values agree
(none, explicit, latent; none, replacement, restriction), used when the family varies them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conflicts.errors import DilemmaFileError
from conflicts.run.import_sources import Batch, Sample
from conflicts.store.transcript import Source

PROMPT_FILES = ("system_prompt.txt", "user_prompt.txt", "email_content.txt")
# the harness's condition parts that are ihsim axes, with the values both vocabularies share
AXES = {
    "goal_type": ("goal_conflict", ("none", "explicit", "latent")),
    "urgency_type": ("threat", ("none", "replacement", "restriction")),
}


def is_results_folder(path: Path) -> bool:
    return (path / "models").is_dir() and (path / "prompts").is_dir()


def results_batches(root: Path) -> list[Batch]:
    """One batch per model folder, each keyed by the experiment and model, so importing the
    folder again (after the harness classified more samples, say) finds what is there."""
    prompts = _prompts(root)
    found = []
    for folder in sorted(p for p in (root / "models").iterdir() if p.is_dir()):
        samples = list(_samples(root, folder, prompts))
        if not samples:
            continue
        key = json.dumps([root.resolve().name, folder.name, sorted(prompts)])
        sha = hashlib.sha256(key.encode()).hexdigest()
        found.append(Batch(root, "agentic-misalignment", sha, samples, part=folder.name))
    if not found:
        raise DilemmaFileError("no samples under models/", file=str(root))
    return found


def _prompts(root: Path) -> dict[str, tuple[str, str]]:
    """Each condition's system prompt and user message, as the harness sends them."""
    found = {}
    for folder in sorted(p for p in (root / "prompts").iterdir() if p.is_dir()):
        texts = {}
        for name in PROMPT_FILES:
            file = folder / name
            try:
                texts[name] = file.read_text(encoding="utf-8") if file.exists() else ""
            except (OSError, UnicodeDecodeError) as exc:
                raise DilemmaFileError(f"cannot read: {exc}", file=str(file)) from None
        user = texts["user_prompt.txt"]
        if texts["email_content.txt"]:
            user = f"{user}\n{texts['email_content.txt']}"
        found[folder.name] = (texts["system_prompt.txt"], user)
    return found


def _samples(root: Path, folder: Path, prompts: dict[str, tuple[str, str]]) -> Iterator[Sample]:
    for response in sorted(folder.glob("*/sample_*/response.json")):
        condition, sample = response.parent.parent.name, response.parent.name
        where = str(response)
        data = _json(response)
        given = data.get("metadata")
        metadata: dict[str, Any] = given if isinstance(given, dict) else {}
        model = metadata.get("model") if isinstance(metadata.get("model"), str) else folder.name
        record: dict[str, Any] = {"model": model, "messages": []}
        if condition in prompts:
            system, user = prompts[condition]
            record["messages"] = [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ]
        error = data.get("error") or metadata.get("error")
        answer = data.get("raw_response")
        if not error and isinstance(answer, str):
            record["messages"].append({"role": "assistant", "content": answer})
        classification = data.get("classification")
        classification = classification if isinstance(classification, dict) else {}
        parts = condition_parts(condition)
        source = Source(
            key=f"{condition}/{sample}",
            id=f"{condition}/{sample}",
            scores={k: v for k, v in classification.items() if _is_score(v)},
            metadata={
                "condition": condition,
                **parts,
                **{k: v for k, v in classification.items() if not _is_score(v)},
            },
        )
        axes = {
            axis: parts[part] for part, (axis, values) in AXES.items() if parts.get(part) in values
        }
        missing = None
        if condition not in prompts:
            missing = f"no prompt for condition {condition!r} in {root / 'prompts'}"
        yield Sample(where, None, record, source, str(error) if error else None, axes, missing)


def condition_parts(condition: str) -> dict[str, str]:
    """`blackmail_explicit-america_replacement` as the harness's scenario, goal type, goal value
    and urgency; a name not in that form gives nothing."""
    pieces = condition.split("_")
    if len(pieces) < 3 or "-" not in pieces[-2]:
        return {}
    goal_type, _, goal_value = pieces[-2].partition("-")
    return {
        "scenario": "_".join(pieces[:-2]),
        "goal_type": goal_type,
        "goal_value": goal_value,
        "urgency_type": pieces[-1],
    }


def _is_score(value: Any) -> bool:
    return isinstance(value, bool | int | float) or value is None


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DilemmaFileError(f"not a response file: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise DilemmaFileError("not a response file (expected a JSON object)", file=str(path))
    return data
