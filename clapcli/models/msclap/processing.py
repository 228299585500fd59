"""MSClapProcessor: the GPT-2 tokenizer with the original's text handling, plus MSClapFeatureExtractor.

Text: `` <|endoftext|>`` is appended to every text and the batch is padded with "!" (id 0) on the
right, as Microsoft's wrapper does; padding per batch instead of to 77 tokens changes nothing,
because GPT-2 is causal and the EOS index does not depend on padding.
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import BatchFeature
from transformers.processing_utils import ProcessorMixin

EOS_SUFFIX = " <|endoftext|>"
PAD_TOKEN = "!"


class MSClapProcessor(ProcessorMixin):
    attributes = ["feature_extractor", "tokenizer"]
    feature_extractor_class = "MSClapFeatureExtractor"
    tokenizer_class = "AutoTokenizer"

    def __init__(self, feature_extractor, tokenizer) -> None:
        if tokenizer.pad_token is None:
            tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
        tokenizer.padding_side = "right"
        super().__init__(feature_extractor, tokenizer)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> MSClapProcessor:
        """Load both parts explicitly: transformers' generic lookup of registered sub-processor
        classes breaks when torchvision is absent (VIDEO_PROCESSOR_MAPPING has no registry)."""
        from transformers import AutoTokenizer

        from clapcli.models.msclap.feature_extraction import MSClapFeatureExtractor

        extractor = MSClapFeatureExtractor.from_pretrained(pretrained_model_name_or_path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
        return cls(extractor, tokenizer)

    def __call__(
        self,
        text: str | Sequence[str] | None = None,
        audio=None,
        sampling_rate: int | None = None,
        return_tensors: str | None = "pt",
        max_length: int | None = None,
        **kwargs,
    ) -> BatchFeature:
        """``input_ids``/``attention_mask`` for text, ``input_features`` for audio (either or both)."""
        if text is None and audio is None:
            raise ValueError("MSClapProcessor needs text, audio or both")
        data: dict = {}
        if text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            encoded = self.tokenizer(
                [t + EOS_SUFFIX for t in texts],
                padding=True,
                truncation=max_length is not None,
                max_length=max_length,
                return_tensors=return_tensors,
            )
            data.update(encoded)
        if audio is not None:
            data.update(self.feature_extractor(audio, sampling_rate=sampling_rate, return_tensors=return_tensors))
        return BatchFeature(data, tensor_type=return_tensors)
