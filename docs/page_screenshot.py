"""Write the README's screenshots of the ``clap serve`` page: ``python docs/page_screenshot.py``.

Builds a small library offline (synthetic sounds in a few folders, each of its own length, two of them
copied again as a library keeps them; embedded with the tiny random CLAP the tests use and tagged with
``clap tag``, so rankings, tags and the map's layout mean nothing: the pictures show the page, not the
model), starts ``clap serve`` on a free port, and photographs a search, the map, the duplicates and the
tags in headless Chromium (Debian's package, driven by Playwright; no browser download). The search goes
to ``--out``; the views beside it (``serve-map.png``, ``serve-duplicates.png``, ``serve-tags.png``).
Re-run it after changing the page.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
CHROMIUM = os.environ.get("CLAPCLI_CHROMIUM", "/usr/bin/chromium")
OUT = ROOT / "docs" / "images" / "serve-page.png"
SOUNDS = {  # folder/name -> (kind, frequency in Hz)
    "drums/kick.wav": ("decay", 55), "drums/snare.wav": ("noise", 0), "drums/hat-closed.wav": ("noise", 0),
    "ambience/rain on roof.wav": ("noise", 0), "ambience/forest birds.wav": ("chirp", 3000),
    "synth/warm pad.wav": ("pad", 220), "synth/bass pluck.wav": ("decay", 110), "synth/lead.wav": ("pad", 440),
    "foley/door knock.wav": ("decay", 180), "foley/footsteps.wav": ("noise", 0), "vox/s075.wav": ("chirp", 600),
    "fx/s075.wav": ("pad", 330), "fx/riser.wav": ("chirp", 200), "fx/impact.wav": ("decay", 40),
}
COPIES = {  # copy -> (source, subtype): a lossy re-encode and an 8-bit copy
    "downloads/warm pad.ogg": ("synth/warm pad.wav", None), "downloads/kick (1).wav": ("drums/kick.wav", "PCM_U8")}
TAGS = "drums,rain,synthesizer,footsteps,voice,whoosh"
VIEWS = {  # file name -> (URL of the view, what to wait for)
    "serve-map.png": ("/?color=folder#map", "#map-canvas[data-state=drawn]"),
    "serve-duplicates.png": ("/#duplicates", ".group canvas[data-state=drawn]"),
    "serve-tags.png": ("/?tag=rain&min=0#tags", "#tag-items canvas[data-state=drawn]"),
}


def write_sounds(folder: Path, rate: int = 16000) -> None:
    import soundfile as sf

    generator = np.random.default_rng(0)
    for number, (name, (kind, hz)) in enumerate(SOUNDS.items()):
        # Lengths 0.3 s apart: a random model finds every pair alike, so the duplicates view must tell the
        # sounds apart by duration and fingerprint (which needs 3 s), as clap dedupe does.
        t = np.arange(int((3.0 + 0.3 * number) * rate)) / rate
        if kind == "noise":
            wave = generator.standard_normal(len(t)) * np.exp(-3 * t) * (0.3 + 0.7 * (generator.random(len(t)) > .5))
        elif kind == "decay":
            wave = np.sin(2 * np.pi * hz * t) * np.exp(-4 * t)
        elif kind == "chirp":
            wave = np.sin(2 * np.pi * hz * t * (1 + t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
        else:
            wave = np.sin(2 * np.pi * hz * t) * np.minimum(1, t * 2) * np.minimum(1, (t[-1] - t) * 2)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.8 * wave / np.abs(wave).max()).astype(np.float32), rate)
    for name, (source, subtype) in COPIES.items():
        samples, _ = sf.read(folder / source, dtype="float32")
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(folder / name, samples, rate, subtype=subtype)


def serve_and_shoot(db: Path, out: Path, query: str) -> None:
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "CLAPCLI_DEVICE": "cpu"}
    server = subprocess.Popen([sys.executable, "-m", "clapcli", "serve", "--db", str(db), "--port", "0"],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        url = None
        for line in server.stderr:
            found = re.search(r"open (http://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
        if url is None:
            raise SystemExit("clap serve did not start")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1000, "height": 640})
            page.goto(f"{url}/?q={query}")
            page.wait_for_function("() => document.querySelectorAll('.hit canvas[data-state=drawn]').length >= 10")
            page.locator("#query").evaluate("e => e.blur()")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            print(f"wrote {out}")
            for name, (view, ready) in VIEWS.items():
                page.goto(url + view)
                page.wait_for_selector(ready)
                page.evaluate("document.activeElement && document.activeElement.blur()")
                page.screenshot(path=str(out.with_name(name)), full_page=True)
                print(f"wrote {out.with_name(name)}")
            browser.close()
    finally:
        server.terminate()
        server.wait(20)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--query", default="warm pad")
    parser.add_argument("--model", type=Path, help="a tiny CLAP checkpoint (default: build one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            from tiny_models import build_tiny_clap

            model = build_tiny_clap(work / "tiny-clap")
        write_sounds(work / "library")
        db = work / "library.db"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "CLAPCLI_DEVICE": "cpu"}
        subprocess.run([sys.executable, "-m", "clapcli", "embed", str(work / "library"), "--db", str(db),
                        "--model", str(model), "--quiet"], check=True, env=env)
        subprocess.run([sys.executable, "-m", "clapcli", "tag", "--db", str(db), "--model", str(model),
                        "--labels", TAGS, "--quiet"], check=True, env=env)
        serve_and_shoot(db, args.out, args.query.replace(" ", "+"))
    return args.out


if __name__ == "__main__":
    main()
