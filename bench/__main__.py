"""`make bench`: generation, run and classification throughput on the built-in family.

Figures are for comparison within one run on one machine; the issues' floors are checked by eye
against them, not asserted (these machines are noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from conflicts.axes import parse_axes
from conflicts.classify import classify_run, get_classifier
from conflicts.family import load_family
from conflicts.generate import Line, Renderer, axis_points, dilemma_lines, write_jsonl
from conflicts.runner import execute, plan_run
from conflicts.store import Store
from hierarchy import load_hierarchy

FAMILY = "confidential-instructions"


def grid(repeats: int) -> Iterator[Line]:
    """The family's whole grid, `repeats` times over, from one renderer as a large grid would be
    (same ids: a throughput load, not a dilemma set)."""
    family = load_family(FAMILY)
    renderer = Renderer(family, load_hierarchy("model-spec"))
    points = list(axis_points(parse_axes(None, family.supported_axes())))
    for _ in range(repeats):
        for point in points:
            for setting in range(len(family.settings)):
                yield renderer.line(point, setting)


def first_grid() -> Iterator[Line]:
    family = load_family(FAMILY)
    axes = parse_axes(None, family.supported_axes())
    return dilemma_lines(family, load_hierarchy("model-spec"), axes, seed=0)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_generate(folder: Path, repeats: int) -> None:
    started = time.perf_counter()
    summary = write_jsonl(grid(repeats), folder / "load.jsonl")
    elapsed = time.perf_counter() - started
    size = (folder / "load.jsonl").stat().st_size / summary.total
    print(
        f"generate   {summary.total:>8} dilemmas  {summary.total / elapsed:>9.0f} dilemmas/s  "
        f"{size / 1024:.1f} KiB/dilemma  peak RSS {peak_rss_mb():.0f} MB"
    )


def bench_run_and_classify(folder: Path, epochs: int) -> None:
    write_jsonl(first_grid(), folder / "d.jsonl")
    models = ["sim/deferential", "sim/literal", "sim/schemer"]
    with Store(folder / "bench.db") as store:
        started = time.perf_counter()
        run = plan_run(store, folder / "d.jsonl", models, epochs, {"seed": 0})
        outcome = asyncio.run(execute(store, run, max_connections=32))
        elapsed = time.perf_counter() - started
        cpu_ms = resource.getrusage(resource.RUSAGE_SELF).ru_utime * 1000
        print(
            f"run        {outcome.done:>8} transcripts {outcome.done / elapsed:>8.0f} /s  "
            f"(sim personas; process CPU so far {cpu_ms / max(outcome.done, 1):.2f} ms each)"
        )
        started = time.perf_counter()
        result = classify_run(store, run.id, get_classifier("evidence"))
        elapsed = time.perf_counter() - started
        print(f"classify   {result.verdicts:>8} verdicts    {result.verdicts / elapsed:>8.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1000, help="grid repeats to generate")
    parser.add_argument("--epochs", type=int, default=100, help="epochs for the run benchmark")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_generate(Path(tmp), args.repeats)
        bench_run_and_classify(Path(tmp), args.epochs)


if __name__ == "__main__":
    main()
