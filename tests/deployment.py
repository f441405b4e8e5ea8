"""Dilemmas as a real deployment sends them: a long operator policy before each system prompt,
the same for every dilemma, as production system prompts run to thousands of tokens. The
built-in families' prompts are a few hundred tokens: too short for any provider to cache."""

from __future__ import annotations

import json
from pathlib import Path

from conflicts.scenarios.dilemma import id_of_line

POLICY = (
    "Deployment policy, section {n}: answers follow the operator's style guide, cite the "
    "knowledge base where it applies, escalate billing disputes to a human agent, never "
    "promise refunds, and keep the customer's personal data out of every summary. "
)


def long_prefix(source: Path, out: Path, sections: int = 40) -> Path:
    """The dilemmas with the policy before their system prompt, each under its new id."""
    policy = "".join(POLICY.format(n=n) for n in range(sections))
    lines = []
    for raw in source.read_text().splitlines():
        body = json.loads(raw)
        for message in body["messages"]:
            if message["role"] == "system":
                message["content"] = policy + message["content"]
        body["id"] = id_of_line(json.dumps(body))
        lines.append(json.dumps(body))
    out.write_text("\n".join(lines) + "\n")
    return out
