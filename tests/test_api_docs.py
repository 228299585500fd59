"""docs/api.md is run, block by block, as a user would paste it: in a folder of sounds, with a tiny model
as the default; and what it prints agrees with the command line on the same inputs."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [block for block in blocks if not block.lstrip().startswith("# not run")]


@pytest.fixture()
def folder(tmp_path: Path, tiny_clap: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import soundfile as sf

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLAPCLI_MODEL", str(tiny_clap))
    rate = 48000
    t = np.arange(2 * rate) / rate
    (tmp_path / "sounds").mkdir()
    sf.write("sounds/dog.wav", (0.3 * np.sin(2 * np.pi * 600 * t) * (t % 0.5 < 0.2)).astype(np.float32), rate)
    sf.write("sounds/rain.wav", (0.1 * np.random.default_rng(1).standard_normal(t.size)).astype(np.float32), rate)
    Path("sounds/broken.wav").write_bytes(b"not audio at all")
    for label, seed in (("dog", 2), ("rain", 3)):
        (tmp_path / "dataset" / label).mkdir(parents=True)
        for index in range(2):
            noise = np.random.default_rng(seed * 10 + index).standard_normal(rate)
            sf.write(f"dataset/{label}/{index}.wav", (0.1 * noise).astype(np.float32), rate)
    return tmp_path


def test_every_example_runs_in_order(folder: Path, cli) -> None:
    namespace: dict = {}
    printed = io.StringIO()
    blocks = _blocks()
    assert len(blocks) >= 8
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the documentation's own code
    assert "skipped sounds/broken.wav" in printed.getvalue()
    assert namespace["summary"].added == 2 and len(namespace["summary"].failed) == 1
    # The records the API gives are the ones the command writes.
    cli_rows = json.loads(cli(["classify", "sounds/dog.wav", "sounds/rain.wav", "--labels", "dog barking,rain",
                                "-f", "json"]).stdout)
    assert namespace["records"] == cli_rows
    assert sorted(namespace["vectors"]) == ["sounds/dog.wav", "sounds/rain.wav"]
    probe_rows = json.loads(cli(["classify", "sounds/dog.wav", "sounds/rain.wav", "--probe", "my-probe",
                                 "-f", "json"]).stdout)
    assert namespace["probe_records"] == probe_rows and namespace["probe"].classes == ["dog", "rain"]
