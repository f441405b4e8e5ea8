"""`make bench-peers`: ihsim and Inspect AI send the same 2,000 requests to the same fake OpenAI
server (200 ms latency, 100 connections); the wall times are compared in one run."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench.__main__ import (
    fake_openai,
    run_command,
    runner_dilemmas,
    server_stats,
    timed_child,
)

PEERS_BIN = Path(".venv-peers") / "bin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dilemmas", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd() / "results") as tmp:
        folder = Path(tmp)
        dilemmas = runner_dilemmas(folder, args.dilemmas)
        server, url = fake_openai(args.latency)
        try:
            ihsim = run_command(dilemmas, url, args.connections, folder / "ihsim.db")
            ihsim_wall, ihsim_cpu = timed_child(ihsim)
            before = server_stats(url)["counts"].get("requests", 0)
            os.environ.update(
                FAKE_BASE_URL=f"{url}/v1",
                FAKE_API_KEY="not-a-key",
                INSPECT_LOG_LEVEL="warning",
                INSPECT_DISPLAY="none",
            )
            inspect = [
                str(PEERS_BIN / "inspect"),
                "eval",
                "bench/peers/inspect_task.py",
                "--model",
                "openai-api/fake/fake",
                "-T",
                f"path={dilemmas}",
                "--max-connections",
                str(args.connections),
                "--log-dir",
                str(folder / "inspect-logs"),
                "--no-score",
            ]
            inspect_wall, inspect_cpu = timed_child(inspect)
            inspect_requests = server_stats(url)["counts"]["requests"] - before
        finally:
            server.kill()
            server.wait()
    count = args.dilemmas
    ideal = count * args.latency / args.connections
    print(
        f"ihsim    {count} transcripts  {ihsim_wall:6.2f} s ({ihsim_wall / ideal:.2f} x ideal)  "
        f"CPU {ihsim_cpu / count * 1000:.2f} ms each"
    )
    print(
        f"inspect  {inspect_requests} requests     {inspect_wall:6.2f} s "
        f"({inspect_wall / ideal:.2f} x ideal)  CPU {inspect_cpu / count * 1000:.2f} ms each"
    )
    print(f"ratio    ihsim / inspect wall time = {ihsim_wall / inspect_wall:.2f}")


if __name__ == "__main__":
    main()
