"""The agreement between a torch model and its export, measured at export on probe clips, images and
texts (recorded in the manifest, so users see what they trade). A fused LAION export is also measured
with ``--long-audio fusion`` (``fusion_*``), where long clips go through its fusion tower; a PE-Audio
export on short raw clips of several lengths, and a frame-level one on its frame scores (``frame_*``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

PROBE_TEXTS = ("a dog barking", "rain on a roof, and thunder far away", "music", "This is a sound of a siren.")


def probe_clips(sample_rate: int, window_samples: int) -> list[np.ndarray]:
    """Deterministic clips: noise (short, repeat-padded), a tone, and a chirp of 1.5 windows (two windows)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(window_samples * 1.5)) / sample_rate
    return [
        (0.3 * rng.standard_normal(sample_rate // 2)).astype(np.float32),
        (0.5 * np.sin(2 * np.pi * 440 * t[: window_samples])).astype(np.float32),
        (0.4 * np.sin(2 * np.pi * (200 + 800 * t) * t)).astype(np.float32),
    ]


def probe_images() -> list[Any]:
    """Deterministic RGB images: noise (landscape), a gradient (portrait), and a small square of blocks."""
    from PIL import Image

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, 90, dtype=np.float64)
    gradient = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :60] * 0.5, 255 - ramp[:, None]), -1)
    blocks = np.kron(rng.integers(0, 256, (4, 4, 3)), np.ones((5, 5, 1)))
    return [Image.fromarray(a.astype(np.uint8)) for a in (noise, gradient, blocks)]


def measure_agreement(model: Any, directory: Path) -> dict[str, Any]:
    """Max |difference| and min cosine of the export's embeddings to torch's, audio (or image) and text."""
    from clapcli.models.runtime.model import load_export

    if model.family == "altclip":
        exported = load_export(directory)
        images = probe_images()
        reference_image = model.encode_prepared([model.prepare(i) for i in images]).numpy()
        exported_image = exported.encode_prepared([exported.prepare(i) for i in images]).numpy()
        reference_text = model.encode_text(list(PROBE_TEXTS)).numpy()
        exported_text = exported.encode_text(list(PROBE_TEXTS)).numpy()
        return {"probe": f"{len(images)} images, {len(PROBE_TEXTS)} texts", "runtime": exported.runtime,
                "precision": exported.precision, **_compare("image", reference_image, exported_image),
                **_compare("text", reference_text, exported_text)}
    if model.family == "pe-audio":  # raw samples: short probes of several lengths, and frame scores
        return measure_pe_agreement(model, directory)
    exported = load_export(directory, long_audio="mean")
    clips = probe_clips(model.sample_rate, model.window_samples)
    reference_audio = model.encode_prepared([model.prepare(c) for c in clips]).numpy()
    exported_audio = exported.encode_prepared([exported.prepare(c) for c in clips]).numpy()
    reference_text = model.encode_text(list(PROBE_TEXTS)).numpy()
    exported_text = exported.encode_text(list(PROBE_TEXTS)).numpy()
    return {"probe": f"{len(clips)} clips, {len(PROBE_TEXTS)} texts", "runtime": exported.runtime,
            "precision": exported.precision,
            **_compare("audio", reference_audio, exported_audio), **_compare("text", reference_text, exported_text),
            **(_fusion_agreement(model, directory, clips) if exported.fused else {})}


def _fusion_agreement(model: Any, directory: Path, clips: list[np.ndarray]) -> dict[str, Any]:
    """With ``--long-audio fusion``, the probe clips longer than one window plus one of 2.3 windows: the
    rows of the fusion tower only (shorter clips take the plain tower, measured above)."""
    from clapcli.models.runtime.model import load_export

    reference = copy.copy(model)  # the export loaded the torch model with mean; the same weights fuse
    reference.long_audio = "fusion"
    exported = load_export(directory, long_audio="fusion")
    t = np.arange(int(model.window_samples * 2.3)) / model.sample_rate
    long = [clip for clip in clips if len(clip) > model.window_samples]
    long.append((0.3 * np.sin(2 * np.pi * 523 * t) * np.exp(-(t % 1.7))).astype(np.float32))
    reference_audio = reference.encode_prepared([reference.prepare(c) for c in long]).numpy()
    exported_audio = exported.encode_prepared([exported.prepare(c) for c in long]).numpy()
    return {"fusion_probe": f"{len(long)} long clips", **_compare("fusion", reference_audio, exported_audio)}


def _compare(what: str, reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    ref, oth = reference.astype(np.float64), other.astype(np.float64)
    cosine = (ref * oth).sum(-1) / (np.linalg.norm(ref, axis=-1) * np.linalg.norm(oth, axis=-1))
    return {f"{what}_max_abs_diff": float(np.abs(ref - oth).max()), f"{what}_min_cosine": float(cosine.min())}


def pe_probe_clips(sample_rate: int) -> list[np.ndarray]:
    """Three lengths (none a multiple of the hop): noise, a tone, a chirp. Short, so a full-size export
    measures its agreement in seconds; the lengths differ from the traced one (dynamic length)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(2.7 * sample_rate) + 11) / sample_rate
    return [(0.3 * rng.standard_normal(sample_rate // 2 + 7)).astype(np.float32),
            (0.5 * np.sin(2 * np.pi * 440 * t[: int(1.3 * sample_rate)])).astype(np.float32),
            (0.4 * np.sin(2 * np.pi * (200 + 800 * t) * t)).astype(np.float32)]


def measure_pe_agreement(model: Any, directory: Path) -> dict[str, Any]:
    """Max |difference| and min cosine against torch: clip embeddings, text embeddings and, for a frame model,
    the frame scores ``clap detect`` writes (the sigmoid of the frame logits) of the longest probe clip
    against the probe texts. Scores, not logits: a logit of 300 off by 6e-4 (a full-size random model's,
    measured) is the same probability."""
    from clapcli.models.runtime.model import load_export

    exported = load_export(directory, long_audio="mean")
    clips = pe_probe_clips(model.sample_rate)
    reference_audio = model.encode_prepared([model.prepare(c) for c in clips]).numpy()
    exported_audio = exported.encode_prepared([exported.prepare(c) for c in clips]).numpy()
    reference_text = model.encode_text(list(PROBE_TEXTS)).numpy()
    exported_text = exported.encode_text(list(PROBE_TEXTS)).numpy()
    result = {"probe": f"{len(clips)} clips of 0.5-2.7 s, {len(PROBE_TEXTS)} texts", "runtime": exported.runtime,
              "precision": exported.precision, **_compare("audio", reference_audio, exported_audio),
              **_compare("text", reference_text, exported_text)}
    if model.frame_level:
        reference = _sigmoid(model.frame_logits(clips[-1], reference_text))
        ours = _sigmoid(exported.frame_logits(clips[-1], reference_text))
        result.update(_compare("frame_scores", reference.T, ours.T))
    return result


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
