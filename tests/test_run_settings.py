"""One typed model of a run's settings, whose dict is exactly what run ids and cache keys have
always hashed: these ids were made by ihsim before the model existed, from the dilemma file
kept beside the tests (the demo's, as generated then), so a change to a family leaves them."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from conflicts.cli import main
from conflicts.store.run_settings import (
    POOLABLE,
    REQUEST_FIELDS,
    RESUME_FIXED,
    ImportedSettings,
    RunSettings,
    settings_of,
)
from tests.conftest import Invoke

PINNED = [
    (["-m", "sim/deferential", "-m", "sim/literal", "-m", "sim/schemer", "-e", "5"],
     "run-ce9a456d6cdf"),  # the demo run of the first confidential-instructions evidence
    (["-m", "sim/literal"], "run-c5ddd9513580"),
    (["-m", "sim/literal", "-s", "3", "--max-turns", "4", "-t", "0.7", "--max-tokens", "99"],
     "run-b237efbee570"),
    (["-m", "sim/literal", "-p", "reasoning_effort=high",
      "-p", 'chat_template_kwargs={"enable_thinking":true}', "--base-url",
      "http://127.0.0.1:9/v1", "--timeout", "30", "--api-key-env", "FOO_KEY"],
     "run-a3a1787f2eff"),
    (["-m", "sim/schemer", "-t", "0", "-e", "2"], "run-2fc7a23f4fa7"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "run_id"), PINNED, ids=[r for _, r in PINNED])
def test_run_ids_stay_what_they_were(ihsim: Invoke, args: list[str], run_id: str) -> None:
    kept = Path(__file__).parent / "data" / "pinned-dilemmas.jsonl"
    Path("d.jsonl").write_bytes(kept.read_bytes())
    ran = ihsim("run", "d.jsonl", *args, "--json")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["run_id"] == run_id


def test_the_recorded_dict_holds_what_was_given_and_the_two_always_there() -> None:
    assert RunSettings().params() == {"seed": 0, "max_turns": 10}
    given = RunSettings(temperature=0, timeout=30, extra={"reasoning_effort": "high"})
    assert given.params() == {
        "seed": 0,
        "max_turns": 10,
        "temperature": 0.0,
        "timeout": 30.0,
        "extra": {"reasoning_effort": "high"},
    }
    assert RunSettings.from_params(given.params()) == given
    assert given.shown() == ["temperature=0.0", "timeout=30.0", "reasoning_effort=high"]


def test_each_setting_is_an_option_of_run_with_the_models_default() -> None:
    assert isinstance(main, click.Group)
    options = {p.name: p for p in main.commands["run"].params}
    for name, info in RunSettings.model_fields.items():
        assert name in options, f"ihsim run has no option for {name}"
        option = options[name]
        if not (isinstance(option, click.Option) and option.multiple):  # -p: nothing by default
            assert option.default in (info.default, None), name
    assert {*RunSettings.model_fields, "epochs"} == RESUME_FIXED and "epochs" in options


def test_roles_are_read_from_the_model() -> None:
    assert {"seed", "temperature", "max_tokens", "stop"} == REQUEST_FIELDS
    assert {"seed", "timeout", "api_key_env", "prompt_cache"} == POOLABLE


def test_an_imported_run_records_its_source_instead() -> None:
    params = {"imported": "eval", "family": "quiz", "hierarchy": "model-spec"}
    settings = settings_of(params)
    assert isinstance(settings, ImportedSettings) and settings.params() == params
    assert settings.shown() == ["family=quiz", "hierarchy=model-spec", "imported=eval"]
