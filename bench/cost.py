"""What a transcript costs, billed by the fake Anthropic server (counted tokens, its prompt cache
and batch API), for a sample of every family: live without caching, live with caching, by batch
without and with, as ratios to the first; and how far `ihsim estimate` was from the bill.

Each family is run as built (prompts of a few hundred tokens, too short for any cache) and with
a long operator policy before each system prompt (`tests.deployment`), as deployments send.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conflicts.errors import FamilyError
from conflicts.scenarios.axes import parse_axes
from conflicts.scenarios.family import family_names, load_family
from conflicts.scenarios.generate import check_compatible, dilemma_lines, write_jsonl
from hierarchy import load_hierarchy, preset_names
from tests.deployment import long_prefix
from tests.fake_servers import ANSWER_TOKENS, AnthropicServer, Behaviour, serving

IHSIM = [sys.executable, "-m", "conflicts"]
MODEL = "anthropic/bench"
PRICES = (
    f'models:\n  "{MODEL}": {{input: 3.0, output: 15.0, cache_read: 0.30, cache_write: 3.75}}\n'
)
WAYS = {
    "live": ("--no-prompt-cache",),
    "live, cached": (),
    "batch": ("--batch", "--no-prompt-cache"),
    "batch, cached": ("--batch",),
}


def _sample(folder: Path, family: str, sample: int) -> Path | None:
    spec = load_family(family)
    for preset in preset_names():
        hierarchy = load_hierarchy(preset)
        try:
            check_compatible(spec, hierarchy)
        except FamilyError:
            continue
        axes = parse_axes(None, spec.supported_axes())
        path = folder / f"{family}.jsonl"
        write_jsonl(dilemma_lines(spec, hierarchy, axes, 0, sample), path)
        return path
    return None


def _billed(dilemmas: Path, db: Path, prices: Path, extra: tuple[str, ...]) -> tuple[float, int]:
    """(dollars, transcripts) of one run on a fresh server and store."""
    env = {**os.environ, "ANTHROPIC_API_KEY": "bench"}
    with serving(AnthropicServer, Behaviour(count_tokens=True)) as server:
        ran = subprocess.run(
            [
                *IHSIM,
                "run",
                str(dilemmas),
                "-m",
                MODEL,
                "--base-url",
                server.url,
                "--db",
                str(db),
                "--prices",
                str(prices),
                "--poll-interval",
                "0.01",
                "--json",
                "-q",
                *extra,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    if ran.returncode != 0:
        raise RuntimeError(f"{dilemmas.name} {extra}: {ran.stderr.strip()}")
    outcome = json.loads(ran.stdout)
    return float(outcome["cost_usd"]), int(outcome["done"])


def _estimated(dilemmas: Path, prices: Path) -> dict[str, float]:
    shown = subprocess.run(
        [
            *IHSIM,
            "estimate",
            str(dilemmas),
            "-m",
            MODEL,
            "--prices",
            str(prices),
            "--output-tokens",
            str(ANSWER_TOKENS),
            "--db",
            str(dilemmas.with_suffix(".none")),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (row,) = json.loads(shown.stdout)
    return dict(row["cost_usd"]) | {"agentic": row["agentic"]}


def bench_cost(folder: Path, sample: int = 20) -> None:
    prices = folder / "cost-prices.yaml"
    prices.write_text(PRICES)
    print(
        f"\ncost per transcript, billed by the fake Anthropic server ({sample} dilemmas a family,"
        " ratios to live without caching; estimate error: `ihsim estimate` against the bill,"
        f" output tokens given as the fake's {ANSWER_TOKENS})"
    )
    print(
        f"{'family':28} {'prompt':12} {'live $/t':>9} {'cached':>7} {'batch':>6} "
        f"{'batch+c':>8} {'est. live':>9} {'est. cached':>11}"
    )
    worst: dict[str, float] = {}
    for family in family_names():
        built = _sample(folder, family, sample)
        if built is None:
            print(f"{family:28} (no preset hosts it)")
            continue
        for label, dilemmas in (
            ("as built", built),
            ("long policy", long_prefix(built, folder / f"{family}-long.jsonl")),
        ):
            costs: dict[str, float] = {}
            for way, extra in WAYS.items():
                db = folder / f"cost-{family}-{label.replace(' ', '-')}-{way.replace(', ', '-')}.db"
                dollars, done = _billed(dilemmas, db, prices, extra)
                costs[way] = dollars / done
            estimate = _estimated(dilemmas, prices)
            live = costs["live"]
            errors = [
                estimate["live"] / (live * done) - 1,
                estimate["live_cached"] / (costs["live, cached"] * done) - 1,
            ]
            kind = "agentic" if estimate["agentic"] else "single-turn"
            for key, error in zip((f"{kind} live", f"{kind} cached"), errors, strict=True):
                worst[key] = max(worst.get(key, 0.0), abs(error))
            print(
                f"{family:28} {label:12} {live:9.6f} {costs['live, cached'] / live:7.2f}"
                f" {costs['batch'] / live:6.2f} {costs['batch, cached'] / live:8.2f}"
                f" {errors[0]:+9.1%} {errors[1]:+11.1%}"
            )
    for key, error in sorted(worst.items()):
        print(f"largest estimate error, {key}: {error:.1%}")
