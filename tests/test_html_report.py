"""The HTML report in a real browser: headless Chromium (Debian's package, which `make test`
installs) driven by Playwright. Model text full of markup must arrive as text and never run."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke
from tests.test_cli import MODELS
from tests.test_compare import classified_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAYLOADS = (
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2">',
    '</pre></details><svg onload="window.__pwned = 3"></svg>',
)
HOSTILE_MODEL = 'sim/<b onmouseover="window.__pwned = 4">bold</b>'


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium. Start it after the CLI work: Playwright's sync API keeps an event
    loop running on this thread, and `ihsim run` needs one of its own."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def hostile_report(ihsim: Invoke) -> Path:
    """A classified run whose first transcripts, evidence and one model name carry markup."""
    classified_run(ihsim, *MODELS)
    payload = " ".join(PAYLOADS)
    db = sqlite3.connect(os.environ["IHSIM_DB"])
    with db:
        first = [r[0] for r in db.execute("SELECT MIN(id) FROM transcripts GROUP BY model")]
        for transcript_id in first:
            messages = [{"role": "assistant", "content": payload}]
            db.execute(
                "UPDATE transcripts SET final_answer = ?, messages = ?, reasoning = ? WHERE id = ?",
                (payload, json.dumps(messages), payload, transcript_id),
            )
            evidence = {
                "quotes": [payload],
                "calls": [payload],
                "mismatch": True,
                "tested": payload,
            }
            db.execute(
                "UPDATE verdicts SET evidence = ? WHERE transcript_id = ?",
                (json.dumps(evidence), transcript_id),
            )
        db.execute("UPDATE transcripts SET model = ? WHERE model = 'sim/literal'", (HOSTILE_MODEL,))
    db.close()
    result = ihsim("report", "--format", "html", "-o", "report.html")
    assert result.exit_code == 0, result.output
    return Path("report.html").resolve()


def test_the_report_loads_clean_and_model_markup_stays_inert(ihsim: Invoke) -> None:
    page_file = hostile_report(ihsim)
    html = page_file.read_text()
    assert all(payload not in html for payload in PAYLOADS)  # escaped before any browser
    with chromium() as browser:
        check_page(browser, page_file)


def check_page(browser: Any, page_file: Path) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url),
    )
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    page.hover("text=bold")  # would fire the hostile model name's onmouseover, were it markup
    assert problems == []
    assert page.evaluate("window.__pwned") is None
    assert (
        page.evaluate("document.querySelectorAll('script, img, iframe, b[onmouseover]').length")
        == 0
    )
    assert page.evaluate(
        "[...document.querySelectorAll('svg')].every(s => s.getAttribute('role') === 'img')"
    )
    rates = page.eval_on_selector_all("#heatmap td[data-rate]", "cells => cells.length")
    assert rates == 9  # three models x three principals
    for details in page.query_selector_all("details")[:6]:
        details.click()  # open the drill-down the way a reader does
    text = page.inner_text("body")
    assert PAYLOADS[0] in text and HOSTILE_MODEL in text
    page.click("#heatmap a >> nth=0")
    assert page.evaluate("location.hash").startswith("#cell-")
    page.close()
