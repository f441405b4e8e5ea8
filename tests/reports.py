"""Reading `ihsim report --json` in tests: the tidy rows, keyed the way assertions need them."""

from __future__ import annotations

import json
from typing import Any

Rows = dict[tuple[str, str], dict[str, dict[str, Any]]]


def measures(stdout: str, group: str = "all", value: str = "all") -> Rows:
    """{(model, principal): {measure: row}} for one group of the report."""
    found: Rows = {}
    for row in json.loads(stdout)["rows"]:
        if row["group"] == group and row["value"] == value:
            found.setdefault((row["model"], row["principal"]), {})[row["measure"]] = row
    return found
