"""File extensions per modality, for directory walks and wrong-kind errors."""

from __future__ import annotations

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".aiff", ".aif",
     ".webm", ".mka", ".wma", ".au", ".caf", ".w64"}
)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"})


def extensions_for(modality: str) -> frozenset[str]:
    return IMAGE_EXTENSIONS if modality == "image" else AUDIO_EXTENSIONS
