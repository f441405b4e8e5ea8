"""A lab's own provider and classifier, from a package of its own, found through entry points:
no file of ihsim is edited, and the CLI offers them as it offers ihsim's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = """
from dataclasses import dataclass

from conflicts.classify.classifiers import Verdict
from conflicts.classify.registry import classifier
from conflicts.classify.rules import Finding
from conflicts.providers.registry import provider
from conflicts.scenarios.dilemma import Message
from conflicts.store.transcript import Turn


@dataclass
class Echo:
    model: str

    async def turn(self, dilemma, conversation, epoch):
        return Turn(message=Message(role="assistant", content="I won't go into my setup."))

    def fingerprint(self):
        return None


@provider("mylab", check=lambda name, params: None)
def _echo(name, params):
    return Echo(f"mylab/{name}")


@classifier("mylab-words", version="3", summary="everything is a refusal")
def _words(dilemma, transcript):
    return [Verdict(p, "refuse", 0.5, Finding("refuse")) for p in dilemma.principals]
"""


def install_plugin(site: Path) -> None:
    """A package installed as pip would leave it: its module and its dist-info."""
    write(site / "mylab_ihsim.py", PLUGIN)
    info = site / "mylab_ihsim-0.1.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: mylab-ihsim\nVersion: 0.1\n")
    write(
        info / "entry_points.txt",
        "[ihsim.providers]\nmylab = mylab_ihsim\n\n[ihsim.classifiers]\nmylab = mylab_ihsim\n",
    )


def ihsim(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "conflicts", *args], capture_output=True, text=True, env=env
    )


def test_a_labs_provider_and_classifier_plug_in_without_editing_ihsim(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_plugin(site)
    assert "mylab-words" in ihsim(site, "classify", "--help").stdout
    made = ihsim(site, "generate", "-f", "confidential-instructions", "-o", "d.jsonl")
    assert made.returncode == 0, made.stderr
    ran = ihsim(site, "run", "d.jsonl", "-m", "mylab/echo", "-q", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["done"] == 12
    labelled = ihsim(site, "classify", "--classifier", "mylab-words")
    assert "36 verdicts on 12 transcripts (mylab-words v3)" in labelled.stderr, labelled.stderr
    report = json.loads(ihsim(site, "report", "--classifier", "mylab-words", "-F", "json").stdout)
    refused = [r for r in report["rows"] if r["measure"] == "refuse" and r["group"] == "all"]
    assert {r["count"] for r in refused} == {12}
    judged = ihsim(site, "classify", "--classifier", "judge", "-j", "mylab/echo")
    assert judged.returncode == 2
    assert "mylab/echo cannot judge: judges are anthropic/, openai-compatible/, openai/" in (
        judged.stderr
    )


def test_without_the_plugin_its_names_are_unknown(tmp_path: Path) -> None:
    made = ihsim(tmp_path, "generate", "-f", "confidential-instructions", "-o", "d.jsonl")
    assert made.returncode == 0
    ran = ihsim(tmp_path, "run", "d.jsonl", "-m", "mylab/echo", "-q")
    assert ran.returncode == 2 and "unknown provider 'mylab'" in ran.stderr


def test_a_broken_plugin_is_one_named_error_not_a_traceback(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site / "broken_ihsim.py", "raise ImportError('needs torch')\n")
    info = site / "broken_ihsim-0.1.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: broken-ihsim\nVersion: 0.1\n")
    write(info / "entry_points.txt", "[ihsim.providers]\nbroken = broken_ihsim\n")
    assert (
        ihsim(site, "generate", "-f", "confidential-instructions", "-o", "d.jsonl").returncode == 0
    )
    ran = ihsim(site, "run", "d.jsonl", "-m", "broken/x", "-q")
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert ran.stderr.strip() == (
        "error: model: provider plugin 'broken' (broken_ihsim) failed to load: needs torch"
    )
