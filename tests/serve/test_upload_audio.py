"""Compressed uploads: decoded as the CLI decodes files (streamed) and refused beyond a duration.

Two hours of silence at 8 kHz is ~180 kB of FLAC but 1.4 GB as float32 at the model's 48 kHz; the
server must answer 413 before decoding it, and must embed a long upload it accepts in flat memory.
Both run in a child process under an RLIMIT_AS cap, so a regression is a refusal there, never a
machine out of memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def silent_flac(path: Path, seconds: int, rate: int = 8000) -> Path:
    import soundfile as sf

    with sf.SoundFile(path, "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as out:
        block = np.zeros(rate * 60, dtype=np.int16)
        for _ in range(seconds // 60):
            out.write(block)
    return path


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return silent_flac(tmp_path_factory.mktemp("bomb") / "two-hours.flac", 7200)


CHILD = textwrap.dedent("""
    import json, resource, sys
    sys.path.insert(0, {tests!r})
    from fastapi.testclient import TestClient
    from clapcli.models.loading import load_embedding_model
    from clapcli.serve import ServeOptions, build

    model = load_embedding_model({model!r}, device="cpu")
    app = build(ServeOptions({db!r}, **{options!r}), loader=lambda model_id: model)
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    data = open({upload!r}, "rb").read()
    client.post("/api/embed/text", json={{"texts": ["warm up"]}})
    size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + {headroom}, size + {headroom}))
    answer = client.post({route!r}, files={{"file": ("clip.flac", data)}}, data={form!r})
    print(json.dumps({{"status": answer.status_code, "body": answer.json()}}))
""")


def post_capped(library_db: Path, tiny_clap: Path, upload: Path, route: str, options: dict,
                headroom_mb: int, form: dict | None = None) -> dict:
    code = CHILD.format(tests=str(REPO / "tests"), model=str(tiny_clap), db=str(library_db), options=options,
                        upload=str(upload), headroom=headroom_mb << 20, route=route, form=form or {})
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "MALLOC_ARENA_MAX": "2",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("route", ["/api/embed/audio", "/api/search/audio", "/api/classify"])
def test_a_decompression_bomb_is_refused_with_413_under_a_memory_cap(library_db: Path, tiny_clap: Path,
                                                                     two_hours: Path, route: str) -> None:
    assert two_hours.stat().st_size < 400_000
    form = {"labels": "a, b"} if route == "/api/classify" else None
    answer = post_capped(library_db, tiny_clap, two_hours, route, {}, headroom_mb=400, form=form)
    assert answer["status"] == 413, answer
    message = answer["body"]["error"]
    assert message.startswith("clip.flac: 7200 s of audio") and "600 s" in message
    assert "--max-upload-seconds" in message


def test_a_long_upload_under_the_limit_is_embedded_in_flat_memory(library_db: Path, tiny_clap: Path,
                                                                 tmp_path: Path) -> None:
    upload = silent_flac(tmp_path / "half-hour.flac", 1800)  # 345 MB as float32 at 48 kHz
    answer = post_capped(library_db, tiny_clap, upload, "/api/embed/audio", {"max_upload_seconds": 1800},
                         headroom_mb=200)
    assert answer["status"] == 200, answer
    assert answer["body"]["duration"] == pytest.approx(1800.0)
    assert np.linalg.norm(answer["body"]["vectors"][0]) == pytest.approx(1.0, abs=1e-5)


def test_the_duration_limit_is_an_option(tmp_path: Path, cli, library_db: Path) -> None:
    from clapcli.errors import UsageError
    from clapcli.serve import ServeOptions, check_options

    with pytest.raises(UsageError, match="^max_upload_seconds must be above 0"):
        check_options(ServeOptions(tmp_path / "x.db", max_upload_seconds=0))
    result = cli(["serve", "--help"])
    assert "--max-upload-seconds" in result.stdout


@pytest.mark.parametrize("key", ["flac", "m4a"])  # libsndfile: from the header; PyAV: while decoding
def test_open_audio_stops_at_max_seconds(audio_files, key: str) -> None:
    from clapcli.audio.decode import AudioTooLong, open_audio

    data = audio_files[key].read_bytes()  # one second of tone
    with pytest.raises(AudioTooLong, match=r"^clip: .* of audio is more than the limit of 0.25 s$"):
        open_audio(data, 48000, "clip", max_seconds=0.25)
    assert open_audio(data, 48000, "clip", max_seconds=2).duration == pytest.approx(1.0, abs=0.05)


def test_an_upload_over_the_limit_gets_413_json(client_limited, audio_files) -> None:
    clip = audio_files["m4a"]
    response = client_limited.post("/api/search/audio", files={"file": (clip.name, clip.read_bytes())})
    assert response.status_code == 413
    assert response.json()["error"] == (f"{clip.name}: over 0.5 s of audio is more than the limit of 0.5 s; "
                                        "send a shorter clip, or start the server with a larger --max-upload-seconds")


@pytest.fixture
def client_limited(library_db: Path, loaded_clap):
    from fastapi.testclient import TestClient

    from clapcli.serve import ServeOptions, build

    app = build(ServeOptions(library_db, max_upload_seconds=0.5), loader=lambda model_id: loaded_clap)
    yield TestClient(app, base_url="http://127.0.0.1:8765")
    app.fastapi.state.engine.close()
