"""`make bench`: generation at a million dilemmas, then run and classification throughput.

Figures are for comparison within one run on one machine; the issues' floors are checked against
them by the reader, never asserted in tests (these machines are noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from conflicts.classify.classifiers import classify_run
from conflicts.classify.registry import get_classifier
from conflicts.run.execute import execute
from conflicts.run.plan import plan_run
from conflicts.scenarios.axes import AXES
from conflicts.scenarios.family import load_family
from conflicts.scenarios.generate import dilemma_lines, hosted, write_jsonl
from conflicts.store.database import Store
from hierarchy import load_hierarchy

BASE_FAMILY = "impossible-quiz"


def million_family(folder: Path, target: int, base: str = BASE_FAMILY) -> tuple[Path, int]:
    """A family file with `target` or more distinct dilemmas: a seed family on its own axes
    (axes it does not use would change nothing, and alike renderings are one dilemma), its
    settings repeated under distinct names (so distinct texts). Returns the file and how many
    distinct dilemmas it renders."""
    family = load_family(base)
    name_slot = "org" if "org" in family.settings[0] else "company"
    spec = family.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec["id"] = "bench-million"
    # every axis, those the family lacks putting a word of their own in the first message, so
    # each point is distinct and one setting renders a big grid (the file stays under 8 MB)
    extra = [axis for axis in AXES if axis not in family.axes]
    for axis in extra:
        spec["axes"][axis] = {v: {f"bench_{axis}": f"({axis}: {v})"} for v in AXES[axis]}
    spec["messages"][0]["content"] += "".join(f" {{{{ bench_{axis} }}}}" for axis in extra)
    per_copy = _distinct(folder, spec)
    copies = math.ceil(target / per_copy)
    spec["settings"] = [
        {**s, name_slot: f"{s[name_slot]} {i:05d}"} for i in range(copies) for s in family.settings
    ]
    path = folder / f"bench-{base}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path, per_copy * copies


def _distinct(folder: Path, spec: dict[str, Any]) -> int:
    """How many distinct dilemmas one copy of the family's settings renders."""
    from conflicts.scenarios.family import load_family_file

    path = folder / "bench-one-copy.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    family = load_family_file(path)
    axes = {axis: list(values) for axis, values in family.supported_axes().items()}
    return sum(1 for _ in dilemma_lines(family, load_hierarchy("model-spec"), axes, 0))


IHSIM = [sys.executable, "-m", "conflicts"]


def generate_command(family_file: Path, output: Path, *extra: str) -> list[str]:
    return [*IHSIM, "generate", "-f", str(family_file), "-o", str(output), *extra]


def run_command(dilemmas: Path, url: str, connections: int, db: Path) -> list[str]:
    """`ihsim run` against a fake server's OpenAI-compatible endpoint."""
    return [
        *IHSIM,
        "run",
        str(dilemmas),
        "-m",
        "openai-compatible/fake",
        "--base-url",
        f"{url}/v1",
        "-c",
        str(connections),
        "--db",
        str(db),
        "-q",
    ]


def bench_generate(folder: Path, target: int) -> None:
    family_file, expected = million_family(folder, target)
    output = folder / "million.jsonl"
    command = generate_command(family_file, output, "-H", "model-spec")
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


def fake_openai(latency: float) -> tuple[subprocess.Popen[str], str]:
    """The test suite's fake OpenAI server, in its own process so its CPU is not ihsim's."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_servers", "openai", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def server_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/stats", timeout=5) as response:
        stats: dict[str, Any] = json.load(response)
        return stats


def timed_child(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def runner_dilemmas(folder: Path, count: int) -> Path:
    """`count` dilemmas with distinct texts (no request repeats another), without tools."""
    family_file, _ = million_family(folder, count, "confidential-instructions")
    dilemmas = folder / "runner.jsonl"
    command = generate_command(family_file, dilemmas, "--sample", str(count))
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    return dilemmas


def sdk_alone(dilemmas: Path, connections: int, latency: float) -> tuple[float, float]:
    """The same requests through the openai SDK alone, on a server of its own: wall seconds and
    seconds from launch to the first request (what importing the SDK costs any tool built on it)."""
    server, url = fake_openai(latency)
    try:
        command = [sys.executable, "-m", "bench.sdk_loop", f"{url}/v1", str(dilemmas)]
        launched = time.time()
        wall = timed_child([*command, str(connections)])[0]
        return wall, server_stats(url)["first_request_at"] - launched
    finally:
        server.kill()
        server.wait()


def ihsim_cold(
    dilemmas: Path, connections: int, latency: float, db: Path
) -> tuple[float, float, float, subprocess.Popen[str], str]:
    """A cold `ihsim run` on a fresh store and a fake server of its own: wall and CPU seconds,
    seconds from launch to the first request, and the server, still up for a warm rerun."""
    server, url = fake_openai(latency)
    command = run_command(dilemmas, url, connections, db)
    launched = time.time()
    wall, cpu = timed_child(command)
    return wall, cpu, server_stats(url)["first_request_at"] - launched, server, url


def bench_runner(
    folder: Path, count: int, connections: int, latency: float, repeats: int = 3
) -> None:
    """`ihsim run` against a fake OpenAI server, cold `repeats` times, alternating with the same
    requests through the openai SDK alone (this machine's speed drifts), then warm."""
    dilemmas = runner_dilemmas(folder, count)
    colds: list[tuple[float, float, float]] = []
    sdk: list[tuple[float, float]] = []
    server: subprocess.Popen[str] | None = None
    try:
        for attempt in range(repeats):
            sdk.append(sdk_alone(dilemmas, connections, latency))
            if server is not None:
                server.kill()
                server.wait()
            db = folder / f"runner-{attempt}.db"
            wall, cpu, first, server, url = ihsim_cold(dilemmas, connections, latency, db)
            colds.append((wall, cpu, first))
        before = server_stats(url)["counts"]["requests"]
        warm_wall, _ = timed_child(run_command(dilemmas, url, connections, db))
        warm_requests = server_stats(url)["counts"]["requests"] - before
    finally:
        if server is not None:
            server.kill()
            server.wait()
    ideal = count * latency / connections
    walls = sorted(c[0] for c in colds)
    cold_wall = statistics.median(walls)
    cpu = statistics.median(c[1] for c in colds) / count * 1000
    first = statistics.median(c[2] for c in colds)
    sdk_walls = sorted(s[0] for s in sdk)
    sdk_wall = statistics.median(sdk_walls)
    sdk_first = statistics.median(s[1] for s in sdk)
    print(
        f"run cold  {count:>9} transcripts  {cold_wall:6.2f} s  = {cold_wall / ideal:.2f} x ideal "
        f"({ideal:.1f} s at {latency * 1000:.0f} ms, {connections} connections; median of "
        f"{repeats}, {walls[0]:.2f}-{walls[-1]:.2f} s)  CPU {cpu:.2f} ms each  first request "
        f"{first:.2f} s after launch, then {(cold_wall - first) / ideal:.2f} x ideal"
    )
    print(
        f"run warm  {warm_requests:>9} requests     {warm_wall:6.2f} s  = "
        f"{warm_wall / cold_wall:.0%} of cold"
    )
    print(
        f"sdk alone {count:>9} requests     {sdk_wall:6.2f} s  = {sdk_wall / ideal:.2f} x ideal "
        f"(the openai SDK in a bare loop, same requests, alternating with ihsim; median of "
        f"{repeats}, {sdk_walls[0]:.2f}-{sdk_walls[-1]:.2f} s)  first request {sdk_first:.2f} s "
        f"after launch, then {(sdk_wall - sdk_first) / ideal:.2f} x ideal: ihsim takes "
        f"{cold_wall / sdk_wall:.2f} x"
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


PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True);"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run_memory(folder: Path, sizes: tuple[int, ...] = (5_000, 50_000)) -> None:
    """Peak memory of a whole `ihsim run` (plan, execute, store) of a simulated persona at two
    sizes: planning and running stream, so the larger may take at most 1.5x the smaller."""
    peaks = []
    for size in sizes:
        family_file, _ = million_family(folder, size, "confidential-instructions")
        dilemmas = folder / f"memory-{size}.jsonl"
        subprocess.run(generate_command(family_file, dilemmas), check=True, capture_output=True)
        with dilemmas.open("rb") as handle:
            count = sum(1 for _ in handle)
        command = [*IHSIM, "run", str(dilemmas), "-m", "sim/literal", "-q"]
        command += ["--db", str(folder / f"memory-{size}.db")]
        started = time.perf_counter()
        measured = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, *command], check=True, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        peaks.append(int(measured.stdout.split()[-1]) / 1024)
        print(
            f"run memory {count:>9} dilemmas          peak RSS {peaks[-1]:>5.0f} MB  "
            f"{elapsed:5.1f} s (whole `ihsim run`, sim/literal)"
        )
    print(f"run memory {'':>9} growth            {peaks[-1] / peaks[0]:.2f} x (floor 1.5 x)")


def import_samples(path: Path, count: int) -> Path:
    """`count` JSONL samples of 100 prompts (so both the per-sample work and the per-prompt
    copies are in it), each with its own source id, as a harness's dump would have them."""
    family = load_family("confidential-instructions")
    axes = {axis: list(values) for axis, values in family.supported_axes().items()}
    dilemmas = list(dilemma_lines(family, load_hierarchy("model-spec"), axes, 0))
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            dilemma = json.loads(dilemmas[n % len(dilemmas)].json)
            prompt = [
                {"role": m["role"], "content": f"{m['content']} ({n % 100})"}
                for m in dilemma["messages"]
            ]
            record = {
                "model": f"lab/m{n % 3}",
                "messages": [*prompt, {"role": "assistant", "content": "I can't discuss that."}],
                "dilemma": dilemma["id"],
                "source_id": f"s{n}",
                "scores": {"judge": "C" if n % 2 else "I"},
            }
            out.write(json.dumps(record) + "\n")
    return path


def bench_import(folder: Path, sizes: tuple[int, ...] = (5_000, 25_000)) -> None:
    """A whole `ihsim import` of a JSONL dump at two sizes: samples per second and peak memory.
    A file is checked whole before anything is written (a bad line writes nothing), so memory
    grows with the file; the rate should not fall with it."""
    rates, peaks = [], []
    for size in sizes:
        source = import_samples(folder / f"import-{size}.jsonl", size)
        command = [*IHSIM, "import", str(source), "-f", "confidential-instructions"]
        command += ["--db", str(folder / f"import-{size}.db")]
        started = time.perf_counter()
        measured = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, *command], check=True, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        rates.append(size / elapsed)
        peaks.append(int(measured.stdout.split()[-1]) / 1024)
        print(
            f"import     {size:>9} samples           {rates[-1]:>7,.0f} samples/s  "
            f"peak RSS {peaks[-1]:>5.0f} MB  {elapsed:5.1f} s (whole `ihsim import`, JSONL)"
        )
    print(
        f"import     {'':>9} growth            rate {rates[-1] / rates[0]:.2f} x, "
        f"memory {peaks[-1] / peaks[0]:.2f} x for {sizes[-1] / sizes[0]:.0f} x the samples"
    )


def synthetic_verdicts(store: Store, target: int, copies: int = 1, seed: int = 0) -> str:
    """A run with `target` or more verdicts over real dilemmas of every seed family the
    model-spec hierarchy hosts: three models, labels drawn at random, one in ten transcripts
    saying it suspects a test. With `copies`, each dilemma is there that many times under
    another id and setting (each copy a minimal-pair partner of its setting's other points), for
    a store of many distinct dilemmas. Written with executemany: this is setup, not timed."""
    from conflicts.scenarios.dilemma import Dilemma
    from conflicts.scenarios.family import family_names
    from conflicts.store.database import RunInfo, now

    hierarchy = load_hierarchy("model-spec")
    base: list[tuple[Dilemma, dict[str, Any]]] = []
    families, _ = hosted([load_family(name) for name in family_names()], hierarchy)
    for family in families:
        axes = {axis: list(values) for axis, values in family.supported_axes().items()}
        for line in dilemma_lines(family, hierarchy, axes, 0):
            base.append((Dilemma.model_validate_json(line.json), json.loads(line.json)))

    def copy_id(dilemma: Dilemma, k: int) -> str:
        return dilemma.id if copies == 1 else f"{dilemma.id[:8]}{k:08x}"

    def items() -> Any:
        for k in range(copies):
            for dilemma, body in base:
                if copies == 1:
                    yield dilemma, json.dumps(body)
                    continue
                update = {"id": copy_id(dilemma, k), "setting": dilemma.setting * copies + k}
                yield dilemma.model_copy(update=update), json.dumps({**body, **update})

    models = ["bench/a", "bench/b", "bench/c"]
    info = RunInfo("run-bench-report", now(), "bench", models, 1, {}, len(base) * copies)
    rng = random.Random(seed)
    labels = ["comply", "refuse", "subvert", "unclear"]
    with store.transaction():
        store.add_run(info, "0" * 64)
        store.add_dilemmas(info.id, items())
    made, epoch, next_id = 0, 0, 1
    while made < target:
        transcripts, verdicts = [], []
        for k in range(copies):
            for dilemma, _ in base:
                for model in models:
                    tested = rng.random() < 0.1
                    transcripts.append(
                        (next_id, info.id, copy_id(dilemma, k), model, epoch, "ok", "[]", "",
                         None, 0, 0, 0.0, None, now(), "answered", None, None, None, 0, 0)
                    )  # fmt: skip
                    for principal in dilemma.principals:
                        label = rng.choices(labels, weights=(5, 3, 2, 0.2))[0]
                        verdicts.append(
                            (next_id, principal, "evidence", "3", label, 1.0, "{}", now(), tested)
                        )
                    made += len(dilemma.principals)
                    next_id += 1
        epoch += 1
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO transcripts VALUES (" + ", ".join("?" * 20) + ")", transcripts
            )
            db.executemany(
                "INSERT INTO verdicts (transcript_id, principal, classifier, classifier_version,"
                " label, confidence, evidence, created_at, tested)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                verdicts,
            )
    return info.id


def bench_report(folder: Path, target: int, dilemmas: int) -> None:
    """Issue 6's floor: 1,000,000 verdicts into every report table in under 5 s; issue 15's:
    `ihsim report` and `ihsim compare` end to end on 3 models x 100,000 transcripts each
    under 10 s, both on few dilemmas with many epochs and on as many dilemmas as transcripts
    (where the paired tests have the most strata); then the verdicts exported row by row."""
    from conflicts.analysis.measures import aggregate

    with Store(folder / "report.db") as store:
        run_id = synthetic_verdicts(store, target)
        count = store.db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
        started = time.perf_counter()
        result = aggregate(store, [run_id], "evidence")
        elapsed = time.perf_counter() - started
        print(
            f"report     {count:>9} verdicts       {elapsed:8.2f} s  into {len(result.cells)} "
            f"cells and {len(result.adherence)} adherence rows (floor 5 s)"
        )
    _report_commands(folder / "report.db", "few dilemmas, many epochs")
    _export(folder / "report.db", run_id)
    with Store(folder / "many.db") as store:
        copies = math.ceil(dilemmas / 200)
        synthetic_verdicts(store, 1, copies)  # one epoch of every copy
    _report_commands(folder / "many.db", "one transcript a dilemma")


def _report_commands(db: Path, shape: str) -> None:
    """Each report command whole, in its own process, on the store at `db`."""
    with Store(db) as store:
        transcripts, dilemmas = store.db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT dilemma_id) FROM transcripts"
        ).fetchone()
    print(f"           {transcripts:>9} transcripts on {dilemmas:,} dilemmas, 3 models ({shape}):")
    for name, extra in [
        ("report", ["report"]),
        ("report md", ["report", "-F", "md"]),  # with every comparison, axis effects too
        ("report json", ["report", "--json"]),
        ("compare", ["compare"]),
        ("compare", ["compare", "--axis", "all"]),
    ]:
        command = [*IHSIM, *extra, "--db", str(db)]
        started = time.perf_counter()
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(command, check=True, **quiet)
        elapsed = time.perf_counter() - started
        print(
            f"{name:<11} {transcripts:>9} transcripts    {elapsed:8.2f} s  whole `ihsim "
            f"{' '.join(extra)}` (floor 10 s)"
        )


def _export(db: Path, run_id: str) -> None:
    from conflicts.formats.export import export

    with Store(db) as store:
        for fmt in ("csv", "parquet"):
            output = db.parent / f"verdicts.{fmt}"
            started = time.perf_counter()
            rows = export(store.db, [run_id], True, fmt, output)
            elapsed = time.perf_counter() - started
            print(
                f"export     {rows:>9} verdicts       {rows / elapsed:>8.0f} /s  {fmt}, "
                f"{output.stat().st_size / 1e6:.0f} MB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dilemmas", type=int, default=1_000_000, help="generation target")
    parser.add_argument("--epochs", type=int, default=100, help="epochs for the run benchmark")
    parser.add_argument("--runner-dilemmas", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--runner-repeats", type=int, default=3, help="cold runs, median taken")
    parser.add_argument("--verdicts", type=int, default=1_000_000, help="report benchmark size")
    parser.add_argument(
        "--report-dilemmas", type=int, default=100_000, help="distinct dilemmas, report's second"
    )
    parser.add_argument(
        "--only",
        choices=["generate", "runner", "sims", "import", "report", "cost", "refusal"],
        default=None,
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd() / "results") as tmp:
        if args.only in (None, "generate"):
            bench_generate(Path(tmp), args.dilemmas)
        if args.only in (None, "runner"):
            bench_runner(
                Path(tmp), args.runner_dilemmas, args.connections, args.latency, args.runner_repeats
            )
        if args.only in (None, "sims"):
            bench_run_and_classify(Path(tmp), args.epochs)
            run_memory(Path(tmp))
        if args.only in (None, "import"):
            bench_import(Path(tmp))
        if args.only in (None, "report"):
            bench_report(Path(tmp), args.verdicts, args.report_dilemmas)
        if args.only in (None, "cost"):
            from bench.cost import bench_cost

            bench_cost(Path(tmp))
        if args.only in (None, "refusal"):
            from bench.refusal import bench_refusal

            bench_refusal()


if __name__ == "__main__":
    main()
