"""``clap detect --probe`` with the frame-level PE-Audio model: each 40 ms frame's scores are the probe applied
to that frame's embedding, as ``PeAudioFrameLevelModel.get_audio_embeds`` computes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from clapcli.core.probe.store import load_probe


def _frame_embeddings(model_dir: Path, path: Path) -> np.ndarray:
    """(n_frames, dim) through transformers alone: the feature extractor and ``get_audio_embeds``."""
    import soundfile as sf
    import torch
    from transformers import PeAudioFeatureExtractor, PeAudioFrameLevelModel

    model = PeAudioFrameLevelModel.from_pretrained(model_dir).eval()
    samples, rate = sf.read(path, dtype="float32")
    inputs = PeAudioFeatureExtractor.from_pretrained(model_dir)(samples, sampling_rate=rate, return_tensors="pt")
    with torch.no_grad():
        return model.get_audio_embeds(inputs["input_values"], inputs.get("padding_mask"))[0].numpy()


def test_frame_scores_are_the_probe_on_each_frame(cli, tiny_pe_frame, pe_clips, tmp_path) -> None:
    data = tmp_path / "labels.csv"
    data.write_text("path,label\n" + "".join(f"{pe_clips[name]},{kind}\n" for name, kind in
                                             (("tone", "tonal"), ("chirp", "tonal"), ("noise", "noisy"))))
    out = tmp_path / "probe"
    trained = cli(["train", data, "-o", out, "-m", tiny_pe_frame, "--runtime", "torch", "-q"])
    assert trained.exit_code == 0, trained.stderr
    frames = tmp_path / "frames.parquet"
    result = cli(["detect", pe_clips["noise"], "--probe", out, "--runtime", "torch", "-f", "csv", "--frames", frames])
    assert result.exit_code == 0, result.stderr
    probe = load_probe(out)
    rows = pq.read_table(frames).to_pylist()
    expected = probe.probabilities(_frame_embeddings(tiny_pe_frame, pe_clips["noise"]))
    assert len(rows) == len(expected) == -(-int(2.3 * 48_000) // 1920)  # one row per model frame
    np.testing.assert_allclose([[r[name] for name in probe.classes] for r in rows], expected, atol=1e-5)

    refused = cli(["detect", pe_clips["noise"], "--probe", out, "--runtime", "torch", "--window", "1", "-q"])
    assert refused.exit_code == 2 and "--window" in refused.stderr and refused.stderr.strip().count("\n") == 0
