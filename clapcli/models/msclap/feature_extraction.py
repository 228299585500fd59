"""Log-mel features exactly as Microsoft's original MS-CLAP computes them inside its model.

The original (torchlibrosa ``Spectrogram`` + ``LogmelFilterBank``) runs on 44.1 kHz audio but builds
its mel filterbank for sr=32000, fmax=14000 from HTSAT's own config: we keep that quirk, or the
pretrained weights would see features they were never trained on. Power spectrogram of a periodic
Hann window (n_fft 1024, hop 320, centered, reflect padding), Slaney mel filters, then
``10 * log10(max(mel, 1e-10))``. Computed in float64.

Clips shorter than the 7 s window are repeated to fill it, as the original does; longer clips are
cut to their first 7 s (the original takes a random crop; windowing long audio is the caller's job).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from transformers.audio_utils import mel_filter_bank
from transformers.feature_extraction_sequence_utils import SequenceFeatureExtractor
from transformers.feature_extraction_utils import BatchFeature


class MSClapFeatureExtractor(SequenceFeatureExtractor):
    model_input_names = ["input_features"]

    def __init__(
        self,
        feature_size: int = 64,
        sampling_rate: int = 44100,
        hop_length: int = 320,
        fft_window_size: int = 1024,
        max_length_s: float = 7,
        mel_sampling_rate: int = 32000,
        frequency_min: float = 50,
        frequency_max: float = 14000,
        padding_value: float = 0.0,
        return_attention_mask: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(
            feature_size=feature_size,
            sampling_rate=sampling_rate,
            padding_value=padding_value,
            return_attention_mask=return_attention_mask,
            **kwargs,
        )
        self.hop_length = hop_length
        self.fft_window_size = fft_window_size
        self.max_length_s = max_length_s
        self.mel_sampling_rate = mel_sampling_rate
        self.frequency_min = frequency_min
        self.frequency_max = frequency_max
        self.nb_max_samples = int(round(max_length_s * sampling_rate))
        self.mel_filters = mel_filter_bank(
            num_frequency_bins=fft_window_size // 2 + 1,
            num_mel_filters=feature_size,
            min_frequency=frequency_min,
            max_frequency=frequency_max,
            sampling_rate=mel_sampling_rate,
            norm="slaney",
            mel_scale="slaney",
        )
        # Periodic Hann window (scipy/librosa "fftbins=True"), as torchlibrosa uses.
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(fft_window_size) / fft_window_size)

    def to_dict(self) -> dict:
        output = super().to_dict()
        for key in ("mel_filters", "window"):
            output.pop(key, None)
        return output

    def fit_window(self, waveform: np.ndarray) -> np.ndarray:
        """Repeat a short clip to fill the window (as the original); keep the head of a long one."""
        waveform = np.asarray(waveform, dtype=np.float64).reshape(-1)
        if waveform.size == 0:
            raise ValueError("empty audio: MS-CLAP needs at least one sample")
        if waveform.size < self.nb_max_samples:
            repeats = int(np.ceil(self.nb_max_samples / waveform.size))
            waveform = np.tile(waveform, repeats)
        return waveform[: self.nb_max_samples]

    def log_mel(self, waveform: np.ndarray) -> np.ndarray:
        """(frames, mel bins) log-mel of one window-sized clip, float64."""
        half = self.fft_window_size // 2
        padded = np.pad(waveform, (half, half), mode="reflect")
        frames = 1 + (padded.size - self.fft_window_size) // self.hop_length
        strides = (padded.strides[0] * self.hop_length, padded.strides[0])
        framed = np.lib.stride_tricks.as_strided(padded, (frames, self.fft_window_size), strides)
        power = np.abs(np.fft.rfft(framed * self.window, axis=-1)) ** 2
        mel = power @ self.mel_filters
        return 10.0 * np.log10(np.maximum(mel, 1e-10))

    def __call__(
        self,
        raw_speech: np.ndarray | Sequence[float] | Sequence[np.ndarray],
        sampling_rate: int | None = None,
        return_tensors: str | None = None,
        **kwargs,
    ) -> BatchFeature:
        """``input_features``: (batch, 1, frames, mel bins) float32."""
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(
                f"MS-CLAP expects audio at {self.sampling_rate} Hz, got {sampling_rate} Hz; resample it first"
            )
        batch = _as_batch(raw_speech)
        features = [self.log_mel(self.fit_window(clip))[None].astype(np.float32) for clip in batch]
        return BatchFeature({"input_features": np.stack(features)}, tensor_type=return_tensors)


def _as_batch(raw_speech) -> list[np.ndarray]:
    if hasattr(raw_speech, "detach"):  # a torch tensor
        raw_speech = raw_speech.detach().cpu().numpy()
    if isinstance(raw_speech, np.ndarray):
        return [raw_speech] if raw_speech.ndim == 1 else list(raw_speech)
    if len(raw_speech) and isinstance(raw_speech[0], (list, tuple, np.ndarray)) or (
        len(raw_speech) and hasattr(raw_speech[0], "detach")
    ):
        return [np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x) for x in raw_speech]
    return [np.asarray(raw_speech)]
