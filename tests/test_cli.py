import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from conflicts.analysis.measures import LABELS
from conflicts.cli import main
from conflicts.scenarios.dilemma import id_of_line
from tests.conftest import Invoke, write
from tests.reports import measures

FAMILY = "confidential-instructions"
MODELS = ["-m", "sim/deferential", "-m", "sim/literal", "-m", "sim/schemer"]


def generate(ihsim: Invoke, out: str = "d.jsonl", *extra: str) -> Path:
    result = ihsim("generate", "--family", FAMILY, "--hierarchy", "model-spec", "-o", out, *extra)
    assert result.exit_code == 0, result.output
    return Path(out)


def test_main_job_end_to_end(ihsim: Invoke) -> None:
    generate(ihsim)
    ran = ihsim("run", "d.jsonl", *MODELS, "--epochs", "4", "-q")
    assert ran.exit_code == 0, ran.output
    run_id = ran.stdout.strip()
    assert run_id.startswith("run-") and "\n" not in run_id
    classified = ihsim("classify")
    assert classified.exit_code == 0
    assert "432 verdicts on 144 transcripts (evidence v3)" in classified.stderr
    table = ihsim("report")
    assert table.exit_code == 0
    for text in ("sim/deferential", "sim/schemer", "end_user", "subvert 95% CI", run_id):
        assert text in table.stdout
    cells = measures(ihsim("report", run_id, "--json").stdout)
    adherence = {model: cells.pop((model, "*"))["adherence"] for model in MODELS[1::2]}
    assert len(cells) == 9
    assert adherence["sim/deferential"]["rate"] > 0.8 > 0.5 > adherence["sim/schemer"]["rate"]
    for cell in cells.values():
        assert {row["n"] for row in cell.values() if row["measure"] in LABELS} == {48}
        assert sum(cell[label]["count"] for label in LABELS) == 48
    schemer = cells["sim/schemer", "end_user"]["subvert"]
    deferential = cells["sim/deferential", "end_user"]["subvert"]
    # the schemer subverts the user and the deferential persona does not, beyond sampling error
    # (48 draws each: the rates themselves move with the dilemma ids that seed the personas)
    assert schemer["ci_low"] > deferential["ci_high"] and schemer["rate"] > 0.5
    assert schemer["ci_low"] < schemer["rate"] < schemer["ci_high"]


def test_rerunning_the_same_command_resumes(ihsim: Invoke) -> None:
    generate(ihsim)
    first = ihsim("run", "d.jsonl", "-m", "sim/literal", "--json")
    second = ihsim("run", "d.jsonl", "-m", "sim/literal", "--json")
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["run_id"] == b["run_id"]
    assert (a["done"], b["done"], b["skipped"]) == (12, 0, 12)


def test_classify_twice_replaces_rather_than_duplicates(ihsim: Invoke) -> None:
    generate(ihsim)
    ihsim("run", "d.jsonl", "-m", "sim/schemer", "-q")
    ihsim("classify")
    before = json.loads(ihsim("report", "--json").stdout)
    ihsim("classify")
    assert json.loads(ihsim("report", "--json").stdout) == before


def test_generate_is_byte_identical_through_the_cli(ihsim: Invoke) -> None:
    a = generate(ihsim, "a.jsonl", "--seed", "7").read_bytes()
    b = generate(ihsim, "b.jsonl", "--seed", "7").read_bytes()
    assert a == b


def test_hierarchy_commands(ihsim: Invoke, tmp_path: Path) -> None:
    listed = ihsim("hierarchy", "list").stdout
    assert {"model-spec", "operator-user", "four-principals"} <= {
        line.split()[0] for line in listed.splitlines()
    }
    shown = json.loads(ihsim("hierarchy", "show", "four-principals", "--format", "json").stdout)
    assert ["owner", "trainer"] in shown["unordered_pairs"]
    dot = ihsim("hierarchy", "show", "model-spec", "--format", "dot").stdout
    assert '"trainer" -> "system_prompter";' in dot
    text = ihsim("hierarchy", "show", "four-principals").stdout
    assert "unordered: owner ~ trainer, owner ~ system_prompter" in text
    ok = write(tmp_path / "h.yaml", "name: mine\nprincipals:\n  - {id: a, channel: system}\n")
    assert ihsim("hierarchy", "validate", str(ok)).stdout.startswith("ok: mine")


def test_family_commands(ihsim: Invoke) -> None:
    assert FAMILY in ihsim("families", "list").stdout
    assert "conflict: conceal vs ask_why" in ihsim("families", "show", FAMILY).stdout
    from conflicts.scenarios.family import FAMILY_DIR

    validated = ihsim("families", "validate", str(FAMILY_DIR / f"{FAMILY}.yaml"))
    assert validated.exit_code == 0 and "12 dilemmas render" in validated.stdout


def all_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [()]

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            found.append((*prefix, name))
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))

    walk(main, ())
    return found


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: " ".join(c) or "ihsim")
def test_every_command_has_help_with_an_example(ihsim: Invoke, command: tuple[str, ...]) -> None:
    for flag in ("-h", "--help"):
        result = ihsim(*command, flag)
        assert result.exit_code == 0
        assert "Example" in result.stdout or "ihsim generate" in result.stdout


CYCLE = """name: loop
principals:
  - {id: a, channel: system}
  - {id: b, channel: user}
authority:
  - {above: a, below: b}
  - {above: b, below: a}
"""


def bad_inputs(tmp: Path) -> list[tuple[str, list[str], str]]:
    write(tmp / "bad.yaml", "name: [unclosed\n")
    write(tmp / "cycle.yaml", CYCLE)
    write(
        tmp / "ghost.yaml",
        "name: g\nprincipals:\n  - {id: a, channel: system}\n"
        "authority:\n  - {above: a, below: ghost}\n",
    )
    write(tmp / "empty.jsonl", "")
    write(tmp / "corrupt.jsonl", '{"schema": "ihsim.dilemma/1", "id": 3}\n')
    write(tmp / "notjson.jsonl", "hello\n")
    return [
        (
            "malformed yaml",
            ["hierarchy", "validate", "bad.yaml"],
            "bad.yaml:2: malformed YAML: expected ',' or ']'",
        ),
        ("cycle", ["hierarchy", "validate", "cycle.yaml"], "authority cycle: a -> b -> a"),
        (
            "unknown principal",
            ["hierarchy", "show", "ghost.yaml"],
            "ghost.yaml:5: authority[0].below: unknown principal 'ghost'",
        ),
        (
            "unknown preset",
            ["generate", "-f", FAMILY, "-H", "nope", "-o", "o.jsonl"],
            "unknown hierarchy 'nope'",
        ),
        ("unknown family", ["generate", "-f", "nope", "-o", "o.jsonl"], "unknown family 'nope'"),
        (
            "family file missing",
            ["generate", "-f", "missing.yaml", "-o", "o.jsonl"],
            "missing.yaml: no such file",
        ),
        (
            "bad axes",
            ["generate", "-f", FAMILY, "--axes", "threat=none", "-o", "o.jsonl"],
            "does not vary 'threat'",
        ),
        ("unknown model", ["run", "d.jsonl", "-m", "sim/saint"], "unknown simulated persona"),
        (
            "empty dilemma file",
            ["run", "empty.jsonl", "-m", "sim/literal"],
            "empty.jsonl: no dilemmas in file",
        ),
        (
            "corrupt dilemma file",
            ["run", "corrupt.jsonl", "-m", "sim/literal"],
            "corrupt.jsonl:1: id: Input should be a valid string",
        ),
        ("not json", ["run", "notjson.jsonl", "-m", "sim/literal"], "notjson.jsonl:1: not JSON"),
        (
            "missing dilemma file",
            ["run", "nope.jsonl", "-m", "sim/literal"],
            "nope.jsonl: cannot read",
        ),
        ("no database", ["report"], "no such database"),
        ("no database to list", ["runs", "--db", "none.db"], "none.db: no such database"),
    ]


@pytest.mark.parametrize("case", range(14))
def test_bad_input_is_one_line_exit_2_nothing_written(
    ihsim: Invoke, isolated: Path, case: int
) -> None:
    generate(ihsim)
    name, args, fragment = bad_inputs(isolated)[case]
    before = sorted(p.name for p in isolated.iterdir())
    result = ihsim(*args)
    assert result.exit_code == 2, (name, result.output)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in isolated.iterdir()) == before, name


def test_report_before_classify_says_what_to_do(ihsim: Invoke) -> None:
    generate(ihsim)
    ihsim("run", "d.jsonl", "-m", "sim/literal", "-q")
    result = ihsim("report")
    assert result.exit_code == 2 and "run `ihsim classify` first" in result.stderr


def test_unknown_run_id(ihsim: Invoke) -> None:
    generate(ihsim)
    ihsim("run", "d.jsonl", "-m", "sim/literal", "-q")
    result = ihsim("classify", "run-000000000000")
    assert result.exit_code == 2 and "no run 'run-000000000000'" in result.stderr


def test_help_does_not_import_provider_sdks() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom conflicts.cli import main\n"
        "CliRunner().invoke(main, ['--help'])\n"
        "print(sorted(m for m in ('anthropic', 'openai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run"], "give a dilemma file and at least one -m MODEL, or --resume RUN_ID"),
        (["run", "d.jsonl"], "give a dilemma file and at least one -m MODEL"),
        (["run", "--resume", "run-000000000000"], "no run 'run-000000000000'"),
        (["run", "--resume", "R", "d.jsonl"], "--resume takes the run's own dilemmas and models"),
        (["run", "--resume", "R", "-m", "sim/literal"], "--resume takes the run's own"),
        (["run", "--resume", "R", "-t", "0.5"], "drop --temperature"),
        (["run", "--resume", "R", "--epochs", "2"], "drop --epochs"),
    ],
)
def test_resume_arguments_are_checked(ihsim: Invoke, args: list[str], fragment: str) -> None:
    generate(ihsim)
    ihsim("run", "d.jsonl", "-m", "sim/literal", "-q")
    before = Path("ihsim.db").stat().st_size
    result = ihsim(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert Path("ihsim.db").stat().st_size == before


def test_resume_continues_a_run_by_id(ihsim: Invoke) -> None:
    generate(ihsim)
    run_id = ihsim("run", "d.jsonl", "-m", "sim/literal", "-e", "2", "-q").stdout.strip()
    resumed = ihsim("run", "--resume", run_id, "--json", "-c", "3")
    assert resumed.exit_code == 0
    outcome = json.loads(resumed.stdout)
    assert (outcome["run_id"], outcome["planned"], outcome["skipped"]) == (run_id, 24, 24)


def test_an_edited_dilemma_that_keeps_its_id_is_refused(ihsim: Invoke, isolated: Path) -> None:
    """Issue 16: the model was sent the first body stored under the id, not the edited one."""
    lines = generate(ihsim).read_text(encoding="utf-8").splitlines()
    first = ihsim("run", "d.jsonl", "-m", "sim/literal", "--db", "a.db")
    assert first.exit_code == 0, first.output
    edited = json.loads(lines[1])
    edited["messages"][-1]["content"] = "A question the model was never asked."
    lines[1] = json.dumps(edited)
    write(isolated / "edited.jsonl", "\n".join(lines) + "\n")
    for db in ("a.db", "b.db"):
        result = ihsim("run", "edited.jsonl", "-m", "sim/literal", "--db", db, "--no-cache")
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith("error: edited.jsonl:2: id: the content does not match")
    assert not (isolated / "b.db").exists()
    del edited["id"]
    assert id_of_line(json.dumps(edited)) != json.loads(lines[1])["id"]


def test_what_would_be_counted_twice_is_refused(ihsim: Invoke, isolated: Path) -> None:
    """Issue 16: lines twice claimed 24 done and stored 12, and `runs` showed 12/24 forever."""
    text = generate(ihsim).read_text(encoding="utf-8")
    write(isolated / "twice.jsonl", text + text.splitlines()[3] + "\n")
    cases = [
        (["run", "twice.jsonl", "-m", "sim/literal"], "twice.jsonl:13: dilemma "),
        (
            ["run", "d.jsonl", "-m", "sim/literal", "-m", "sim/literal"],
            "sim/literal is given twice",
        ),
        (
            ["generate", "-f", FAMILY, "-a", "framing=prohibitive|prohibitive", "-o", "x.jsonl"],
            "axis framing lists 'prohibitive' twice",
        ),
    ]
    for args, fragment in cases:
        result = ihsim(*args)
        assert result.exit_code == 2 and fragment in result.stderr, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
    assert "repeats line 4" in ihsim(*cases[0][0]).stderr
    assert not (isolated / "x.jsonl").exists()
    assert not (isolated / "results").exists()  # no store was begun for a run refused
