"""The browser tests skip with their reason where no browser is installed, and fail where CI requires them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BROWSER_TESTS = Path(__file__).with_name("test_browser.py")


@pytest.mark.parametrize(("required", "code", "shown"), [("0", 0, "SKIPPED"), ("1", 1, "browser tests required")])
def test_a_missing_browser_skips_or_fails_as_asked(required: str, code: int, shown: str, tmp_path: Path) -> None:
    env = {**os.environ, "CLAPCLI_CHROMIUM": str(tmp_path / "no-chromium"), "CLAPCLI_REQUIRE_BROWSER": required}
    run = subprocess.run([sys.executable, "-m", "pytest", str(BROWSER_TESTS), "-rs", "-p", "no:cacheprovider",
                          "-k", "search_play"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == code, run.stdout[-2000:]
    assert shown in run.stdout
    assert "no browser at" in run.stdout
