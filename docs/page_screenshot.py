"""Write the README's screenshot of the ``clap serve`` page: ``python docs/page_screenshot.py``.

Builds a small library offline (synthetic sounds in a few folders, embedded with the tiny random CLAP
the tests use, so the ranking means nothing: the picture shows the page, not the model), starts
``clap serve`` on a free port, and photographs a search in headless Chromium (Debian's package,
driven by Playwright; no browser download). Re-run it after changing the page.
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


def write_sounds(folder: Path, rate: int = 16000) -> None:
    import soundfile as sf

    generator = np.random.default_rng(0)
    t = np.arange(int(1.5 * rate)) / rate
    for name, (kind, hz) in SOUNDS.items():
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
        serve_and_shoot(db, args.out, args.query.replace(" ", "+"))
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
