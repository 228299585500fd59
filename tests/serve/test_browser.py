"""The page in a real headless Chromium (Debian's package, driven by Playwright; no browser download).

``clap serve`` runs as a real process on a free port over the tiny library; the test types a
query, sees hits, plays and seeks (a Range request reaches the server), clicks "more like this",
uses the zero-shot page and checks that a failing upload shows the server's one-line error.
A screenshot of each page is saved as a test artefact (``$CLAPCLI_ARTIFACTS`` or the tmp dir).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CLAPCLI_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]


def missing_browser() -> str | None:
    """Why the page cannot be driven here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"no browser at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module", autouse=True)
def browser_present() -> None:
    """Without a browser these tests skip, saying why; CI sets CLAPCLI_REQUIRE_BROWSER=1, where a missing
    browser fails them instead."""
    reason = missing_browser()
    if reason and os.environ.get("CLAPCLI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (CLAPCLI_REQUIRE_BROWSER=1) but {reason}")
    if reason:
        pytest.skip(reason)


@contextmanager
def serve_process(db: Path, *options: str):
    """``clap serve --port 0`` over ``db`` in its own process; yields its URL read from the start-up line."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "CLAPCLI_DEVICE": "cpu"}
    process = subprocess.Popen([sys.executable, "-m", "clapcli", "serve", "--db", str(db), "--port", "0", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url = None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"open (http://127\.0\.0\.1:\d+)", line)
        if found:
            url = found.group(1)
            break
    assert url is not None, "".join(lines)
    yield url
    process.terminate()  # SIGTERM: a clean shutdown
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode in (0, 143), process.stderr.read()


@pytest.fixture(scope="module")
def server(library_db: Path):
    with serve_process(library_db) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone-sized screen
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def artefact(name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CLAPCLI_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def test_search_play_seek_and_more_like_this(server: str, page, tmp_path: Path) -> None:
    ranges: list[str] = []
    page.on("request", lambda r: ranges.append(r.headers.get("range", "")) if "/api/audio/" in r.url else None)
    page.goto(server + "/")
    page.wait_for_selector("#collection option", state="attached")
    assert page.locator("#collection option").all_inner_texts() == ["default (6)", "drums (2)"]
    page.locator("#status").click()  # focus away from the box, then '/' brings it back
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "query"
    page.keyboard.type("soft piano")
    page.keyboard.press("Enter")
    page.wait_for_selector(".hit")
    assert page.locator(".hit").count() == 6
    assert "6 results for “soft piano”" in page.locator("#status").inner_text()
    first_name = page.locator(".hit .name").first.inner_text()

    audio = page.locator(".hit audio").first
    audio.evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function("() => document.querySelector('.hit audio').currentTime > 0.05")
    audio.evaluate("a => { a.currentTime = 0.5; }")  # seek
    page.wait_for_function("() => document.querySelector('.hit audio').currentTime >= 0.5")
    assert any(r.startswith("bytes=") for r in ranges), ranges  # the player asked for byte ranges
    page.screenshot(path=str(artefact("serve-search.png", tmp_path)), full_page=True)

    page.locator(".hit .more").first.click()
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('sounds like')")
    names = page.locator(".hit .name").all_inner_texts()
    assert len(names) == 5 and first_name not in names  # the item itself is not its own neighbour

    page.select_option("#collection", "drums")  # the switcher re-runs the query on that collection
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('in drums')")
    assert page.locator(".hit").count() == 2


def test_zero_shot_bars_and_upload_errors(server: str, page, audio_files, tmp_path: Path) -> None:
    page.goto(server + "/#zeroshot")
    page.wait_for_selector("#zs-form", state="visible")
    page.set_input_files("#zs-file", str(audio_files["flac"]))
    page.fill("#zs-labels", "dog barking, rain, piano")
    page.click("#zs-form button[type=submit]")
    page.wait_for_selector(".bar")
    labels = page.locator(".bar .label").all_inner_texts()
    assert sorted(labels) == ["dog barking", "piano", "rain"]
    values = [float(v) for v in page.locator(".bar .track").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-valuenow'))")]
    assert values == sorted(values, reverse=True) and abs(sum(values) - 1) < 1e-4
    page.screenshot(path=str(artefact("serve-zeroshot.png", tmp_path)), full_page=True)

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"definitely not audio")
    page.set_input_files("#zs-file", str(bad))
    page.click("#zs-form button[type=submit]")
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.inner_text().startswith("broken.wav: not a readable audio file") and "\n" not in error.inner_text()

    page.goto(server + "/#search")  # the search page's drop/pick zone: same error line
    page.wait_for_selector("#search-form", state="visible")
    page.set_input_files("#search-file", str(bad))
    error.wait_for(state="visible")
    assert "broken.wav: not a readable audio file" in error.inner_text()
    page.set_input_files("#search-file", str(audio_files["ogg"]))  # and a good file finds similar sounds
    page.wait_for_selector(".hit")
    assert "sounds like tone.ogg" in page.locator("#status").inner_text()
    assert page.locator("#error").is_hidden()
