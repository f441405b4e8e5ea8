"""The README shows real output: rerun its demo commands and compare."""

import re
from pathlib import Path

from tests.conftest import Invoke

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_report_is_what_the_demo_prints(ihsim: Invoke) -> None:
    ihsim(
        "generate",
        "--family",
        "confidential-instructions",
        "--hierarchy",
        "model-spec",
        "--seed",
        "7",
        "-o",
        "results/demo/dilemmas.jsonl",
    )
    run = ihsim(
        "run",
        "results/demo/dilemmas.jsonl",
        "-m",
        "sim/deferential",
        "-m",
        "sim/literal",
        "-m",
        "sim/schemer",
        "--epochs",
        "5",
    )
    ihsim("classify")
    printed = {
        line.rstrip()
        for line in ihsim("report").stdout.splitlines()
        if "sim/" in line or line.startswith(" " * 20)
    }
    readme = README.read_text(encoding="utf-8")
    assert run.stdout.strip() in readme
    summary = run.stderr.strip().splitlines()[-1]
    assert summary in readme, summary
    rows = [line.rstrip() for line in readme.splitlines() if "   60   " in line]
    assert len(rows) == 9
    adherence = [
        line.rstrip() for line in readme.splitlines() if re.search(r"sim/\w+ +\d+/60 ", line)
    ]
    assert len(adherence) == 3
    for row in rows + adherence:
        assert row in printed, row
    effects = ihsim("compare", "--axis", "tested", "-m", "sim/schemer").stdout.splitlines()
    assert effects[0] in readme
    compared = ihsim("compare").stdout.splitlines()
    quoted = [line for line in compared if line.startswith("end_user: sim/schemer")]
    assert quoted and quoted[0].split(" than ")[0] + " than" in readme
    assert any(line in readme for line in compared)


def test_every_path_the_readme_names_exists() -> None:
    """The map of where things are, and every file the README points at, stays true."""
    root = README.parent
    text = README.read_text()
    named = set(re.findall(r"`((?:conflicts|hierarchy|tests|bench)/[\w/.*-]*)`", text))
    assert len(named) > 10
    for path in named:
        assert list(root.glob(path)), f"the README names {path}, which does not exist"
    rows = re.findall(r"^\| `(conflicts/\w+/)` \|[^|]+\| ([^|]+) \|$", text, re.MULTILINE)
    assert len(rows) == 8
    for area, files in rows:
        for name in re.findall(r"`([\w.]+\.py)`", files):
            assert (root / area / name).exists(), f"{area}{name}"


def test_readme_import_example_is_what_the_commands_print(ihsim: Invoke) -> None:
    readme = README.read_text(encoding="utf-8")
    family = (README.parent / "tests" / "data" / "families" / "audit-log.yaml").read_text()
    assert f"```yaml\n{family}```" in readme
    log = "tests/data/inspect/inspect-0.3.285/shared-prompt.eval"
    family_file = "tests/data/families/audit-log.yaml"
    imported = ihsim("import", str(README.parent / log), "-f", str(README.parent / family_file))
    run = imported.stdout.strip()
    assert f"\n{run}\n" in readme
    summary = imported.stderr.strip().replace(str(README.parent) + "/", "")
    assert summary in readme, summary
    ihsim("classify")
    row = next(
        line for line in ihsim("report", "-F", "md").stdout.splitlines() if "mockllm" in line
    )
    assert row in readme, row
    crossed = ihsim("validate", "--scores", run).stdout.splitlines()
    table = crossed[next(i for i, x in enumerate(crossed) if x.startswith("kept_audit_log")) :]
    shown = [x.rstrip() for x in table if x.startswith(("  kept_audit_log ", "  C ", "  I "))]
    assert len(shown) == 3
    for line in shown:
        assert line in readme, line


def test_readme_revealed_hierarchy_example_is_what_the_command_prints(ihsim: Invoke) -> None:
    readme = README.read_text(encoding="utf-8")
    shown = readme[readme.index("$ ihsim hierarchy reveal -m sim/literal\n") :]
    shown = shown[shown.index("\n") + 1 : shown.index("```")]
    ihsim("generate", "-f", "all", "-H", "model-spec", "--swap-issuers", "-o", "d.jsonl")
    personas = ("-m", "sim/deferential", "-m", "sim/literal", "-m", "sim/schemer")
    assert ihsim("run", "d.jsonl", *personas, "-e", "3").exit_code == 0
    assert ihsim("classify").exit_code == 0
    printed = ihsim("hierarchy", "reveal", "-m", "sim/literal").stdout
    assert printed == shown
    deferential = ihsim("hierarchy", "reveal", "-m", "sim/deferential").stdout
    assert "6 agreed of 6 pairs" in deferential
