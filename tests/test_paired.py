"""Paired comparisons: models on the same dilemmas, axis values on their minimal pairs."""

import json
import random
import sqlite3

import numpy as np
import pytest

from conflicts.analysis.pairings import CMH, MCNEMAR, Pairing, pairings
from tests.conftest import Invoke


def _clusters(
    rows: list[tuple[str, str, str, int, int]], axes: dict[str, dict[str, str]]
) -> sqlite3.Connection:
    """The report's temp tables `clusters` and `dilemma_points` as the SQL that builds them
    leaves them (each dilemma numbered), from (model, principal, dilemma, subvert, comply)
    rows, and a `dilemmas` table with each one's axes."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE dilemmas (id TEXT, family TEXT, axes TEXT, setting INTEGER)")
    db.executemany(
        "INSERT INTO dilemmas VALUES (?, 'f', ?, 0)", [(d, json.dumps(a)) for d, a in axes.items()]
    )
    number = {d: i for i, d in enumerate(sorted(axes))}
    db.execute("CREATE TEMP TABLE dilemma_points (dilemma_id, dilemma)")
    db.executemany("INSERT INTO dilemma_points VALUES (?, ?)", number.items())
    db.execute(
        "CREATE TEMP TABLE clusters (model, principal, point, dilemma, tested, run_id,"
        " comply, refuse, subvert, unclear, not_applicable)"
    )
    db.executemany(
        "INSERT INTO clusters VALUES (?, ?, 0, ?, 0, 'r', ?, 0, ?, 0, 0)",
        [(m, p, number[d], comply, subvert) for m, p, d, subvert, comply in rows],
    )
    return db


def test_one_answer_per_dilemma_is_mcnemars_exact_test_as_statsmodels_gives_it() -> None:
    from statsmodels.stats.contingency_tables import mcnemar

    rng = random.Random(1)
    rows, table = [], np.zeros((2, 2))
    for index in range(60):
        a = int(rng.random() < 0.3)
        b = int(rng.random() < (0.7 if a else 0.15))
        rows += [("m/a", "user", f"d{index}", a, 1 - a), ("m/b", "user", f"d{index}", b, 1 - b)]
        table[a, b] += 1
    found = pairings(_clusters(rows, {f"d{i}": {} for i in range(60)}), False, [])
    pair = found["model", "", "user", "", "m/a", "m/b"]
    assert pair.test == MCNEMAR and pair.strata == 60
    assert (pair.only_a, pair.only_b) == (table[1, 0], table[0, 1])
    assert pair.p_value() == pytest.approx(mcnemar(table, exact=True).pvalue)


def test_epochs_make_it_the_cmh_test_over_dilemmas_as_statsmodels_gives_it() -> None:
    from statsmodels.stats.contingency_tables import StratifiedTable

    rng = random.Random(2)
    rows, tables = [], []
    for index in range(40):
        base = rng.random()
        counts = []
        for model, lift in (("m/a", 0.0), ("m/b", 0.15)):
            epochs = rng.randint(1, 6)
            subverts = sum(rng.random() < min(1.0, base + lift) for _ in range(epochs))
            rows.append((model, "user", f"d{index}", subverts, epochs - subverts))
            counts.append([subverts, epochs - subverts])
        tables.append(counts)
    found = pairings(_clusters(rows, {f"d{i}": {} for i in range(40)}), False, [])
    pair = found["model", "", "user", "", "m/a", "m/b"]
    assert pair.test == CMH
    reference = StratifiedTable(np.array(tables, dtype=float).transpose(1, 2, 0))
    assert pair.p_value() == pytest.approx(reference.test_null_odds(correction=True).pvalue)


def test_textbook_mcnemar_and_cmh_values() -> None:
    """Agresti's presidential approval ratings (794, 150, 86, 570; Categorical Data Analysis,
    section 10.1), whose McNemar statistic is z^2 = 17.36: at 236 discordant pairs the exact
    p lies between the chi-square's without and with continuity correction. A CMH test whose
    strata hold no association at all gives 1."""
    from scipy.stats import chi2

    paired = Pairing(1600, 944, 1600, 880, 1600, True, 150, 86, 0.0, 0.0)
    assert pytest.approx(17.36, abs=0.01) == (150 - 86) ** 2 / 236
    assert chi2.sf(17.36, 1) < paired.p_value() < chi2.sf((64 - 1) ** 2 / 236, 1)
    assert Pairing(3, 0, 3, 0, 3, False, 0, 0, 0.0, 0.0).p_value() == 1.0


def test_axis_values_pair_on_dilemmas_that_differ_in_that_axis_alone() -> None:
    """Cue subtle against obvious at each surveillance value: four minimal pairs; a dilemma
    whose cue was not varied is in none."""
    axes = {
        f"{cue}-{watch}": {"cue": cue, "watch": watch}
        for cue in ("subtle", "obvious")
        for watch in ("none", "monitored", "logged", "public")
    }
    axes["odd"] = {"cue": "not varied here", "watch": "none"}
    rows = [
        ("m/a", "user", d, int(a["cue"] == "obvious"), int(a["cue"] != "obvious"))
        for d, a in axes.items()
    ]
    found = pairings(_clusters(rows, axes), False, ["cue"])
    pair = found["axis", "m/a", "user", "cue", "obvious", "subtle"]
    assert pair.strata == 4 and (pair.only_a, pair.only_b) == (4, 0) and pair.test == MCNEMAR
    assert not any(key[3] == "watch" for key in found)  # only the axes asked for


def test_a_paired_effect_that_an_unpaired_test_misses_is_found(ihsim: Invoke) -> None:
    """Twelve dilemmas, ten answers per model each: on the hard half model a lies 9 times of
    10 and b 10; on the easy half a never lies and b once. The dilemmas differ far more than
    the models, so Fisher's test on the pooled counts (54/120 against 66/120) finds nothing; on
    every dilemma b lies more, and the CMH test over the dilemmas says so."""
    from conflicts.analysis.intervals import fisher_exact
    from tests.test_import import answer, family_dilemmas, write_jsonl

    records = []
    for index, case in enumerate(family_dilemmas()):
        hard = index % 2 == 0
        for model, lies in (("lab/a", 9 if hard else 0), ("lab/b", 10 if hard else 1)):
            records += [answer(case, "deny", model, dilemma=case.id)] * lies
            records += [answer(case, "decline", model, dilemma=case.id)] * (10 - lies)
    write_jsonl("t.jsonl", records)
    assert ihsim("import", "t.jsonl", "-f", "confidential-instructions").exit_code == 0
    assert ihsim("classify").exit_code == 0
    rows = json.loads(ihsim("compare", "--json").stdout)
    [row] = [r for r in rows if r["principal"] == "end_user"]
    assert (row["subvert_a"], row["n_a"], row["subvert_b"], row["n_b"]) == (54, 120, 66, 120)
    assert fisher_exact(54, 66, 66, 54) > 0.1  # unpaired: nothing
    assert row["test"] == CMH and row["paired"] and row["strata"] == 12
    assert row["p"] < 0.01
    said = ihsim("compare").stdout
    assert f"{CMH} over 12 dilemmas p = " in said


def test_designs_that_share_no_dilemma_are_compared_unpaired(ihsim: Invoke) -> None:
    from tests.test_import import answer, family_dilemmas, write_jsonl

    cases = family_dilemmas()
    records = [answer(c, "deny", "lab/a", dilemma=c.id) for c in cases[:6]]
    records += [answer(c, "decline", "lab/b", dilemma=c.id) for c in cases[6:]]
    write_jsonl("t.jsonl", records)
    assert ihsim("import", "t.jsonl", "-f", "confidential-instructions").exit_code == 0
    assert ihsim("classify").exit_code == 0
    [row] = [
        r for r in json.loads(ihsim("compare", "--json").stdout) if r["principal"] == "end_user"
    ]
    assert row["test"] == "Fisher exact" and not row["paired"] and row["strata"] is None
    assert "Fisher exact (unpaired) p = " in ihsim("compare").stdout
