"""MS-CLAP (Microsoft CLAP) as a transformers model, registered with the Auto classes (model_type "msclap").

Importing this package is enough for ``AutoConfig``/``AutoModel``/``AutoFeatureExtractor``/``AutoProcessor``
``.from_pretrained`` to load MS-CLAP checkpoints. It imports torch: commands import it lazily.
"""

from __future__ import annotations

from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoProcessor

from clapcli.models.msclap.configuration import MSClapAudioConfig, MSClapConfig, MSClapTextConfig
from clapcli.models.msclap.feature_extraction import MSClapFeatureExtractor
from clapcli.models.msclap.modeling import (
    MSClapAudioModel,
    MSClapAudioModelWithProjection,
    MSClapModel,
    MSClapTextModel,
    MSClapTextModelWithProjection,
)
from clapcli.models.msclap.processing import MSClapProcessor

__all__ = [
    "MSClapAudioConfig",
    "MSClapAudioModel",
    "MSClapAudioModelWithProjection",
    "MSClapConfig",
    "MSClapFeatureExtractor",
    "MSClapModel",
    "MSClapProcessor",
    "MSClapTextConfig",
    "MSClapTextModel",
    "MSClapTextModelWithProjection",
]


def _register() -> None:
    for config_class, model_class in (
        (MSClapConfig, MSClapModel),
        (MSClapTextConfig, MSClapTextModel),
        (MSClapAudioConfig, MSClapAudioModel),
    ):
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, model_class, exist_ok=True)
    AutoFeatureExtractor.register(MSClapConfig, MSClapFeatureExtractor, exist_ok=True)
    AutoProcessor.register(MSClapConfig, MSClapProcessor, exist_ok=True)


_register()
