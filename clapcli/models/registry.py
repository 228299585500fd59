"""Known model families and aliases.

A family is read from the checkpoint's ``config.json`` (``model_type``) or ``model_index.json``
(``_class_name``), never guessed from the name. Each family names its backend class lazily
(``module:Class``) so that nothing heavy is imported to list or resolve models.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    modality: str  # "audio" or "image" for embedding models, "generation" for text-to-audio
    backend: str  # "package.module:loader" (a function or Class.load), imported only when the model is loaded
    description: str


FAMILIES: dict[str, Family] = {
    "laion-clap": Family("laion-clap", "audio", "clapcli.models.laion:LaionClapBackend.load", "LAION CLAP (ClapModel)"),
    "msclap": Family("msclap", "audio", "clapcli.models.msclap.backend:MSClapBackend.load",
                     "Microsoft CLAP (clapcli port)"),
    "altclip": Family("altclip", "image", "clapcli.models.altclip:AltClipBackend.load", "AltCLIP / CLIP image-text"),
    "pe-audio": Family("pe-audio", "audio", "clapcli.models.pe_audio:PeAudioBackend.load",
                       "Perception Encoder Audio (PeAudioModel, PeAudioFrameLevelModel, PeAudioVideoModel's audio)"),
    "audioldm2": Family("audioldm2", "generation", "clapcli.models.audioldm2:load", "AudioLDM 2 (diffusers)"),
    "stable-audio-open": Family("stable-audio-open", "generation", "clapcli.models.stable_audio:load_open",
                                "Stable Audio Open (diffusers)"),
    "stable-audio-3": Family("stable-audio-3", "generation", "clapcli.models.stable_audio:load_sa3",
                             "Stable Audio 3 (diffusers)"),
}

# config.json "model_type" -> family
MODEL_TYPES = {
    "clap": "laion-clap",
    "msclap": "msclap",
    "ms_clap": "msclap",
    "altclip": "altclip",
    "clip": "altclip",
    "pe_audio": "pe-audio",  # PeAudioModel and PeAudioFrameLevelModel ("architectures" tells them apart)
    "pe_audio_video": "pe-audio",  # the pe-av-* checkpoints: their audio and text towers
}

# model_index.json "_class_name" -> family
PIPELINE_CLASSES = {
    "AudioLDM2Pipeline": "audioldm2",
    "StableAudioPipeline": "stable-audio-open",
    "StableAudio3Pipeline": "stable-audio-3",
    "StableAudio3AudioToAudioPipeline": "stable-audio-3",
    "StableAudio3InpaintPipeline": "stable-audio-3",
}

EMBEDDING_ALIASES: dict[str, str] = {
    "unfused": "laion/clap-htsat-unfused",
    "fused": "laion/clap-htsat-fused",
    "general": "laion/larger_clap_general",
    "clap-music": "laion/larger_clap_music",
    "music": "laion/larger_clap_music",  # ambiguous with generation's 'music': AMBIGUOUS_ALIASES
    "music-speech": "laion/larger_clap_music_and_speech",
    "msclap-2023": "microsoft/msclap",
    "msclap": "microsoft/msclap",
    "altclip": "BAAI/AltCLIP",
    "pe-av-small": "facebook/pe-av-small",
    "pe-av-base": "facebook/pe-av-base",
    "pe-av-large": "facebook/pe-av-large",
    "pe-a-frame-small": "facebook/pe-a-frame-small",
    "pe-a-frame-base": "facebook/pe-a-frame-base",
    "pe-a-frame-large": "facebook/pe-a-frame-large",
}

GENERATION_ALIASES: dict[str, str] = {
    "audioldm2": "cvssp/audioldm2",
    "base": "cvssp/audioldm2",
    "large": "cvssp/audioldm2-large",
    "music": "cvssp/audioldm2-music",
    "audioldm2-large": "cvssp/audioldm2-large",
    "audioldm2-music": "cvssp/audioldm2-music",
    "tts-gigaspeech": "anhnct/audioldm2_gigaspeech",
    "tts-ljspeech": "anhnct/audioldm2_ljspeech",
    # Gated on the hub (Stability AI Community License): accept the terms on the model page first.
    "stable-audio-open": "stabilityai/stable-audio-open-1.0",
    # Gated too (Stability AI Community License + Gemma Terms of Use); published in stable-audio-tools form only,
    # so they are converted once on first use (clapcli.models.conversion.sa3_on_first_use).
    "stable-audio-3-small-sfx": "stabilityai/stable-audio-3-small-sfx",
    "stable-audio-3-small-music": "stabilityai/stable-audio-3-small-music",
}

# Stable Audio 3 releases in stable-audio-tools form (model_config.json + model.safetensors + t5gemma-b-b-ul2/),
# converted into diffusers' layout on first use; ids as the stable-audio-3 repository's model_configs.py names them.
SA3_RELEASES = ("stabilityai/stable-audio-3-small-sfx", "stabilityai/stable-audio-3-small-music",
                "stabilityai/stable-audio-3-medium")

# Licence pages named when the hub refuses a gated model (no token, or terms not accepted).
GATED_LICENCES: dict[str, str] = {
    "stabilityai/stable-audio-open-1.0": "https://huggingface.co/stabilityai/stable-audio-open-1.0",
    "stabilityai/stable-audio-3-small-sfx": "https://huggingface.co/stabilityai/stable-audio-3-small-sfx",
    "stabilityai/stable-audio-3-small-music": "https://huggingface.co/stabilityai/stable-audio-3-small-music",
    "stabilityai/stable-audio-3-medium": "https://huggingface.co/stabilityai/stable-audio-3-medium",
}

# Frame-level checkpoints (PeAudioFrameLevelModel): clap detect scores their own frames; the clip-level
# commands get the CLS-token path PeAudioModel computes on the same weights (docs/pe-audio.md).
FRAME_ALIASES = ("pe-a-frame-small", "pe-a-frame-base", "pe-a-frame-large")

# The family of aliases (and their hub ids) whose checkpoints are not exported, known without their config.json
ALIAS_FAMILIES: dict[str, str] = {name: "pe-audio" for alias, target in EMBEDDING_ALIASES.items()
                                  if alias.startswith("pe-") for name in (alias, target)}

# Aliases that name a different model for embedding and for generation: they still work (documented in
# 0.1) with a warning pointing to the unambiguous spellings; they go in the next release.
AMBIGUOUS_ALIASES: dict[str, str] = {"music": "clap-music (embed, classify, retrieve) or audioldm2-music (generate)"}

DEFAULT_EMBEDDING_MODEL = "laion/clap-htsat-unfused"
DEFAULT_GENERATION_MODEL = "cvssp/audioldm2"


def family_from_config(config: dict) -> str | None:
    """The family of a checkpoint from its parsed config.json / model_index.json, or None."""
    class_name = config.get("_class_name")
    if class_name:
        return PIPELINE_CLASSES.get(class_name)
    return MODEL_TYPES.get(str(config.get("model_type", "")).lower())
