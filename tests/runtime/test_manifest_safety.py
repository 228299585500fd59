"""A crafted export manifest never reaches outside its directory, and values no export writes are refused
in one line naming the file and the field (issue 23, item 7)."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from clapcli.errors import ModelLoadError
from clapcli.models.runtime.manifest import MANIFEST_NAME, read_manifest


def _forged(source: Path, folder: Path, change) -> Path:
    shutil.copytree(source, folder)
    data = json.loads((folder / MANIFEST_NAME).read_text())
    change(data)
    (folder / MANIFEST_NAME).write_text(json.dumps(data))  # NaN/Infinity as Python's json writes them
    return folder


def _refused(folder: Path, field: str) -> str:
    with pytest.raises(ModelLoadError) as caught:
        read_manifest(folder)
    message = str(caught.value)
    assert "\n" not in message and str(folder / MANIFEST_NAME) in message and field in message, message
    return message


def test_tokenizer_outside_the_export_is_refused(exports, tmp_path):
    source = exports["laion-clap", "onnx"]
    outside = tmp_path / "secret.json"
    shutil.copy(source / "tokenizer.json", outside)  # a readable tokenizer: only the path is wrong
    for value in (str(outside), "../secret.json", "/etc/shadow", "sub/../../secret.json"):
        folder = _forged(source, tmp_path / f"x{len(list(tmp_path.iterdir()))}",
                         lambda d, v=value: d["text"].update(tokenizer=v))
        _refused(folder, "text.tokenizer")


def test_fusion_tower_outside_the_export_is_refused(exports, tmp_path):
    source = exports["laion-clap", "onnx"]
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(source / "audio.onnx", other / "audio.onnx")
    for value in ("../other/audio", str(other / "audio"), "../../../other/audio"):
        folder = _forged(source, tmp_path / f"x{len(list(tmp_path.iterdir()))}",
                         lambda d, v=value: d["audio"].update(fused=True, fusion_tower=v))
        _refused(folder, "audio.fusion_tower")


def test_a_symlink_out_of_the_export_is_refused(exports, tmp_path):
    source = exports["laion-clap", "onnx"]
    folder = tmp_path / "linked"
    shutil.copytree(source, folder)
    outside = tmp_path / "outside.json"
    shutil.copy(source / "tokenizer.json", outside)
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer.json").symlink_to(outside)
    _refused(folder, "tokenizer.json")
    inside = tmp_path / "inside"  # a link within the export is fine
    shutil.copytree(source, inside)
    os.rename(inside / "text.onnx", inside / "text-real.onnx")
    (inside / "text.onnx").symlink_to("text-real.onnx")
    assert read_manifest(inside).family == "laion-clap"


@pytest.mark.parametrize(("field", "change"), [
    ("logit_scale", lambda d: d.update(logit_scale=math.nan)),
    ("logit_scale", lambda d: d.update(logit_scale=math.inf)),
    ("logit_scale", lambda d: d.update(logit_scale=-1.0)),
    ("logit_scale", lambda d: d.update(logit_scale="14")),
    ("embedding_dim", lambda d: d.update(embedding_dim=0)),
    ("audio.window_samples", lambda d: d["audio"].update(window_samples=1)),
    ("audio.window_samples", lambda d: d["audio"].update(window_samples=10**12)),
    ("audio.window_samples", lambda d: d["audio"].update(window_samples=4.5)),
    ("audio.sample_rate", lambda d: d["audio"].update(sample_rate=0)),
    ("audio.fit", lambda d: d["audio"].update(fit="explode")),
    ("audio.mel.hop_length", lambda d: d["audio"]["mel"].update(hop_length=0)),
    ("audio.mel.n_mels", lambda d: d["audio"]["mel"].update(n_mels=10**6)),
    ("audio.mel.f_max", lambda d: d["audio"]["mel"].update(f_max=math.nan)),
    ("audio.mel.scale", lambda d: d["audio"]["mel"].update(scale="bark")),
    ("audio.mel", lambda d: d["audio"].update(mel=[1, 2])),
    ("text.max_length", lambda d: d["text"].update(max_length=-3)),
    ("text.pad_id", lambda d: d["text"].update(pad_id="zero")),
    ("audio", lambda d: d.update(audio="none")),
])
def test_values_no_export_writes_are_refused(exports, tmp_path, field, change):
    folder = _forged(exports["laion-clap", "onnx"], tmp_path / "bad", change)
    _refused(folder, field)


def test_nan_logit_scale_fails_the_command_in_one_line(cli, exports, tmp_path, clips):
    folder = _forged(exports["laion-clap", "onnx"], tmp_path / "nan", lambda d: d.update(logit_scale=math.nan))
    result = cli(["classify", clips[0], "--labels", "dog,rain", "--model", folder])
    assert result.exit_code == 1 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "logit_scale" in lines[0] and MANIFEST_NAME in lines[0]


def test_the_exports_clapcli_writes_pass(exports):
    for folder in exports.values():
        read_manifest(folder)
