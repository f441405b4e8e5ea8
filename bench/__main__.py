"""`make bench`: generation at a million dilemmas, then run and classification throughput.

Figures are for comparison within one run on one machine; the issues' floors are checked against
them by the reader, never asserted in tests (these machines are noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from conflicts.axes import AXES
from conflicts.classify import classify_run, get_classifier
from conflicts.family import load_family
from conflicts.generate import dilemma_lines, write_jsonl
from conflicts.runner import execute, plan_run
from conflicts.store import Store
from hierarchy import load_hierarchy

BASE_FAMILY = "impossible-quiz"


def million_family(folder: Path, target: int) -> tuple[Path, int]:
    """A family file with `target` or more distinct dilemmas: a seed family varied on all eight
    axes, its settings repeated under distinct organisation names."""
    family = load_family(BASE_FAMILY)
    axes = {
        axis: dict(family.axes.get(axis, {v: {} for v in values})) for axis, values in AXES.items()
    }
    points = math.prod(len(values) for values in axes.values())
    copies = math.ceil(target / (points * len(family.settings)))
    settings = [{**s, "org": f"{s['org']} {i:05d}"} for i in range(copies) for s in family.settings]
    spec = family.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec.update(id="bench-million", axes=axes, settings=settings)
    path = folder / "bench-million.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path, points * len(settings)


def bench_generate(folder: Path, target: int) -> None:
    family_file, expected = million_family(folder, target)
    output = folder / "million.jsonl"
    command = [
        sys.executable,
        "-m",
        "conflicts",
        "generate",
        "-f",
        str(family_file),
        "-H",
        "model-spec",
        "-o",
        str(output),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with output.open("rb") as handle:
        count = sum(1 for _ in handle)
    size = output.stat().st_size
    output.unlink()
    assert count == expected, (count, expected)
    print(
        f"generate   {count:>9} distinct dilemmas  {count / elapsed:>8.0f} dilemmas/s  "
        f"{elapsed:5.1f} s  {size / count / 1024:.1f} KiB each  peak RSS {peak_mb:.0f} MB "
        "(whole `ihsim generate` process)"
    )


def bench_run_and_classify(folder: Path, epochs: int) -> None:
    family = load_family("confidential-instructions")
    axes = {axis: list(values) for axis, values in family.supported_axes().items()}
    write_jsonl(dilemma_lines(family, load_hierarchy("model-spec"), axes, 0), folder / "d.jsonl")
    models = ["sim/deferential", "sim/literal", "sim/schemer"]
    with Store(folder / "bench.db") as store:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
        started = time.perf_counter()
        run = plan_run(store, folder / "d.jsonl", models, epochs, {"seed": 0})
        outcome = asyncio.run(execute(store, run, max_connections=32))
        elapsed = time.perf_counter() - started
        cpu_ms = (resource.getrusage(resource.RUSAGE_SELF).ru_utime - before) * 1000
        print(
            f"run        {outcome.done:>9} transcripts       {outcome.done / elapsed:>8.0f} /s  "
            f"CPU {cpu_ms / max(outcome.done, 1):.2f} ms each (sim personas, store included)"
        )
        started = time.perf_counter()
        result = classify_run(store, run.id, get_classifier("evidence"))
        elapsed = time.perf_counter() - started
        print(
            f"classify   {result.verdicts:>9} verdicts"
            f"          {result.verdicts / elapsed:>8.0f} /s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dilemmas", type=int, default=1_000_000, help="generation target")
    parser.add_argument("--epochs", type=int, default=100, help="epochs for the run benchmark")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd() / "results") as tmp:
        bench_generate(Path(tmp), args.dilemmas)
        bench_run_and_classify(Path(tmp), args.epochs)


if __name__ == "__main__":
    main()
