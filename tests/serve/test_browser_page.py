"""The search page as a daily tool, in headless Chromium: the search in the URL, paths relative to the
library root (escaped), paging, compact rows, waveform thumbnails, copy-path and download.

The library: three files named ``s075.wav`` in three folders, one file whose name is HTML, and 22
more tones, so results run past one page of 20.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .conftest import embed_into
from .test_browser import artefact, browser, browser_present, serve_process  # noqa: F401  (fixtures)

HOSTILE = """<img src=x onerror="window.pwned=1">'q.wav"""


@pytest.fixture(scope="module")
def wide_library(tmp_path_factory: pytest.TempPathFactory, tiny_clap: Path) -> tuple[Path, Path]:
    from typer.testing import CliRunner

    from clapcli.cli import app

    root = tmp_path_factory.mktemp("wide") / "sounds"
    rate = 16000
    t = np.arange(rate // 2) / rate

    def tone(path: Path, hz: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.5 * np.sin(2 * np.pi * hz * t) * np.linspace(1, 0.2, len(t))).astype(np.float32), rate)

    for i, folder in enumerate("abc"):
        tone(root / folder / "s075.wav", 300 + 200 * i)
    tone(root / "odd" / HOSTILE, 900)
    for i in range(22):
        tone(root / "many" / f"t{i:02d}.wav", 1000 + 60 * i)
    db = root.parent / "wide.db"

    def cli(args):
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)

    embed_into(cli, root, db, tiny_clap)
    return root, db


@pytest.fixture(scope="module")
def wide_server(wide_library):
    with serve_process(wide_library[1]) as url:
        yield url


@pytest.fixture
def desk(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def names(page) -> list[str]:
    return page.locator(".hit .name").all_inner_texts()


def wait_status(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('#status').textContent.includes(t)", arg=text)


def test_the_search_lives_in_the_url_and_pages(wide_server: str, desk) -> None:
    desk.goto(wide_server + "/?q=tone")  # loading a URL runs its search
    wait_status(desk, "for “tone”")
    assert desk.input_value("#query") == "tone"
    first_page = names(desk)
    assert len(first_page) == 20 and "results 1–20" in desk.locator("#status").inner_text()
    assert desk.locator("#pager").is_visible()
    assert desk.locator("#prev").is_disabled() and desk.locator("#next").is_enabled()
    desk.click("#next")
    wait_status(desk, "page 2")
    assert "page=2" in desk.url and "q=tone" in desk.url
    second_page = names(desk)
    assert len(second_page) == 6 and not set(second_page) & set(first_page)
    assert desk.locator("#next").is_disabled()
    ranks = desk.locator(".hit .meta").all_inner_texts()
    assert ranks[0].startswith("#21 ") and ranks[-1].startswith("#26 ")
    desk.go_back()  # back and forward re-run the search of that URL
    wait_status(desk, "page 1")
    assert names(desk) == first_page and "page=" not in desk.url
    desk.go_forward()
    wait_status(desk, "page 2")
    assert names(desk) == second_page

    desk.goto(wide_server + "/?q=tone&k=5&page=3")  # a shared link: page size and page kept
    wait_status(desk, "page 3")
    assert names(desk) == (first_page + second_page)[10:15]

    desk.locator(".hit .more").first.click()  # "more like this" is a URL too
    wait_status(desk, "sounds like")
    assert "similar=" in desk.url and "q=" not in desk.url
    desk.go_back()
    wait_status(desk, "page 3")
    assert desk.input_value("#query") == "tone"

    desk.goto(wide_server + "/")  # a search typed on the bare page; back empties the page again
    desk.wait_for_selector("#collection option", state="attached")
    desk.fill("#query", "tone")
    desk.press("#query", "Enter")
    wait_status(desk, "results 1–20")
    assert "?q=tone" in desk.url
    desk.go_back()
    desk.wait_for_function("() => document.querySelectorAll('.hit').length === 0")
    assert desk.input_value("#query") == "" and desk.locator("#pager").is_hidden()


def test_paths_relative_to_the_root_and_escaped(wide_library, wide_server: str, desk) -> None:
    root, _ = wide_library
    desk.goto(wide_server + "/?q=tone&k=100")
    wait_status(desk, "26 results")
    shown = names(desk)
    assert desk.locator("#pager").is_hidden()  # one page: no pager
    assert {"a/s075.wav", "b/s075.wav", "c/s075.wav", f"odd/{HOSTILE}"} <= set(shown)
    assert len(set(shown)) == 26
    titles = desk.locator(".hit .name").evaluate_all("els => els.map(e => e.title)")
    assert sorted(titles) == sorted(str(root / name) for name in shown)  # the full path on hover
    assert desk.evaluate("window.pwned") is None  # the name was text, never markup
    assert desk.locator("#hits img").count() == 0


def test_rows_are_compact(wide_server: str, desk, browser, tmp_path: Path) -> None:  # noqa: F811
    desk.goto(wide_server + "/?q=tone")
    wait_status(desk, "results 1–20")
    boxes = desk.locator(".hit").evaluate_all("els => els.map(e => e.getBoundingClientRect().toJSON())")
    assert len(boxes) == 20 and max(b["height"] for b in boxes) <= 60, [b["height"] for b in boxes]
    pitch = max(b2["top"] - b1["top"] for b1, b2 in zip(boxes, boxes[1:], strict=False))
    assert 900 / pitch >= 12, pitch  # at least 12 hits per 900 px screen
    desk.screenshot(path=str(artefact("serve-page-desktop.png", tmp_path)))
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(wide_server + "/?q=tone")
    wait_status(phone, "results 1–20")
    heights = phone.locator(".hit").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
    assert max(heights) <= 60, heights
    phone.context.close()


def test_waveform_thumbnails_and_their_placeholder(wide_server: str, desk) -> None:
    desk.goto(wide_server + "/?q=tone")
    desk.wait_for_function("() => document.querySelectorAll('.hit canvas[data-state=drawn]').length === 20")
    inked = desk.locator(".hit canvas").evaluate_all("""els => els.map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n / (c.width * c.height); })""")
    assert all(0.2 < share < 1 for share in inked), inked  # a waveform: some columns, not a filled box

    desk.route("**/api/peaks/**", lambda route: route.fulfill(
        status=400, content_type="application/json", body='{"error": "x.wav: not a readable audio file"}'))
    desk.goto(wide_server + "/?q=tone&page=2")
    desk.wait_for_function("() => document.querySelectorAll('.hit canvas[data-state=failed]').length === 6")
    assert desk.locator(".hit canvas").first.get_attribute("title") == "no waveform: x.wav: not a readable audio file"
    assert desk.locator("#error").is_hidden() and desk.locator(".hit").count() == 6


def test_copy_path_and_download(wide_library, wide_server: str, browser, tmp_path: Path) -> None:  # noqa: F811
    root, _ = wide_library
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=wide_server)
    page = context.new_page()
    page.goto(wide_server + "/?q=tone")
    wait_status(page, "results 1–20")
    row = page.locator(".hit").nth(2)
    full = row.locator(".name").get_attribute("title")
    row.locator(".copy").click()
    wait_status(page, "copied")
    assert page.evaluate("navigator.clipboard.readText()") == full
    with page.expect_download() as info:
        row.locator(".download").click()
    download = info.value
    assert download.suggested_filename == Path(full).name
    saved = tmp_path / "saved.wav"
    download.save_as(saved)
    assert saved.read_bytes() == Path(full).read_bytes()
    context.close()


@pytest.fixture(scope="module")
def segment_server(tmp_path_factory: pytest.TempPathFactory, sounds: Path, tiny_clap: Path):
    import shutil

    from typer.testing import CliRunner

    from clapcli.cli import app

    folder = tmp_path_factory.mktemp("segment-page") / "long"
    folder.mkdir()
    for path in sorted(sounds.iterdir())[:3]:
        shutil.copy(path, folder / path.name)
    db = folder.parent / "segments.db"
    result = CliRunner().invoke(app, ["embed", str(folder), "--db", str(db), "--model", str(tiny_clap),
                                      "--segments", "0.25", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    with serve_process(db) as url:
        yield url


def test_segment_hits_grouped_by_file_and_played_from_their_windows(segment_server: str, desk) -> None:
    desk.goto(segment_server + "/?q=a+dog")
    wait_status(desk, "3 results")
    shown = names(desk)
    assert len(shown) == 3 == len(set(shown))  # one row per file
    for row in desk.locator(".hit").all():
        chips = row.locator(".window")
        assert chips.count() >= 1
        scores = [float(s) for s in chips.evaluate_all("els => els.map(e => e.dataset.score)")]
        best = float(row.locator(".meta").inner_text().split(" · ")[1])
        assert scores == sorted(scores, reverse=True) and all(s <= best + 5e-4 for s in scores)
    row = desk.locator(".hit").first
    audio = row.locator("audio")
    audio.evaluate("a => { a.muted = true; }")
    starts = [float(s) for s in row.locator(".window").evaluate_all("els => els.map(e => e.dataset.start)")]
    start = max(starts)
    assert start > 0
    chip = row.locator(f".window[data-start='{starts[starts.index(start)]:g}']")
    chip.click()
    audio.evaluate("(a, s) => new Promise(r => { const f = () => a.currentTime >= s && !a.paused ? r() : "
                   "setTimeout(f, 20); f(); })", start)
    assert audio.evaluate("a => a.currentTime") >= start


def test_the_readme_screenshot_script_writes_a_png(tmp_path: Path, tiny_clap: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "docs" / "page_screenshot.py"
    out = tmp_path / "page.png"
    # Its own process: Playwright's sync API cannot start inside this module's running browser.
    done = subprocess.run([sys.executable, str(script), "--out", str(out), "--model", str(tiny_clap)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and f"wrote {out}" in done.stdout, done.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1000 and int.from_bytes(data[20:24], "big") == 640
    for view in ("serve-map.png", "serve-duplicates.png", "serve-tags.png"):  # the views, beside it
        assert f"wrote {out.with_name(view)}" in done.stdout
        assert out.with_name(view).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
