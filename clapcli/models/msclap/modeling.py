"""The MS-CLAP port: transformers' HTSAT (``ClapAudioEncoder``) and ``GPT2Model`` with MS-CLAP's heads.

What differs from LAION CLAP, as in Microsoft's original code:
- projections are ``linear1 -> GELU -> linear2 -> dropout``, then LayerNorm of ``linear1 + linear2``
  (both linears bias-free);
- the text embedding is GPT-2's hidden state at the ``<|endoftext|>`` token the processor appends;
  its index is "number of non-zero ids - 1", because the original pads with "!" (id 0);
- one ``logit_scale`` instead of LAION's two.
Parameter names match the converted ``kamilakesbi/ms_clap`` checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GPT2Model, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.models.clap.modeling_clap import ClapAudioEncoder, ClapAudioSelfAttention
from transformers.pytorch_utils import Conv1D
from transformers.utils import ModelOutput

from clapcli.models.msclap.configuration import MSClapAudioConfig, MSClapConfig, MSClapTextConfig

# Keys some converted checkpoints carry that this port does not use: the HTSAT classifier head
# (tscam_conv, head), GPT-2's old causal-mask buffers, Swin attention-mask buffers.
_IGNORED_CHECKPOINT_KEYS = [
    r"tscam_conv\.", r"audio_encoder\.head\.", r"attn\.bias", r"attn\.masked_bias", r"attn_mask"
]


@dataclass
class MSClapOutput(ModelOutput):
    """Similarities (logits) per audio and per text, and the normalized embeddings."""

    logits_per_audio: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    audio_embeds: torch.Tensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    audio_model_output: BaseModelOutputWithPooling | None = None


@dataclass
class MSClapTextModelOutput(ModelOutput):
    text_embeds: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None


@dataclass
class MSClapAudioModelOutput(ModelOutput):
    audio_embeds: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None


class MSClapProjectionLayer(nn.Module):
    def __init__(self, config: MSClapTextConfig | MSClapAudioConfig) -> None:
        super().__init__()
        self.linear1 = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.linear2 = nn.Linear(config.projection_dim, config.projection_dim, bias=False)
        self.layer_norm = nn.LayerNorm(config.projection_dim)
        self.drop = nn.Dropout(config.projection_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        first = self.linear1(hidden_states)
        second = self.drop(self.linear2(F.gelu(first)))
        return self.layer_norm(first + second)


def eos_hidden_state(last_hidden_state: torch.Tensor, input_ids: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """Hidden state at the EOS token, found like the original: count of non-pad ids, minus one."""
    lengths = torch.ne(input_ids, pad_token_id).sum(-1) - 1
    rows = torch.arange(input_ids.shape[0], device=last_hidden_state.device)
    return last_hidden_state[rows, lengths.to(last_hidden_state.device)]


class MSClapPreTrainedModel(PreTrainedModel):
    config: MSClapConfig
    config_class = MSClapConfig
    base_model_prefix = "msclap"
    input_modalities = ("audio", "text")
    supports_gradient_checkpointing = False
    _keys_to_ignore_on_load_unexpected = _IGNORED_CHECKPOINT_KEYS

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = 0.02
        if isinstance(module, (nn.Linear, nn.Conv2d, Conv1D)):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            if isinstance(module, nn.BatchNorm2d):
                init.zeros_(module.running_mean)
                init.ones_(module.running_var)
        elif isinstance(module, ClapAudioSelfAttention):
            init.zeros_(module.relative_position_bias_table)
            init.copy_(module.relative_position_index, module.create_relative_position_index())
        elif isinstance(module, MSClapModel):
            init.constant_(module.logit_scale, math.log(self.config.logit_scale_init_value))


class MSClapAudioModel(MSClapPreTrainedModel):
    """HTSAT audio tower; ``pooler_output`` is the 768-d latent the projection consumes."""

    config: MSClapAudioConfig
    config_class = MSClapAudioConfig
    main_input_name = "input_features"
    input_modalities = "audio"

    def __init__(self, config: MSClapAudioConfig) -> None:
        super().__init__(config)
        self.audio_encoder = ClapAudioEncoder(config)
        self.post_init()

    def forward(
        self, input_features: torch.Tensor, is_longer: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        return self.audio_encoder(input_features=input_features, is_longer=is_longer, return_dict=True)


class MSClapTextModel(MSClapPreTrainedModel):
    """GPT-2 text tower; ``pooler_output`` is the hidden state at the EOS token."""

    config: MSClapTextConfig
    config_class = MSClapTextConfig
    input_modalities = ("text",)

    def __init__(self, config: MSClapTextConfig) -> None:
        super().__init__(config)
        self.text_model = GPT2Model(config.gpt2_config())
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.wte

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        hidden = self.text_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = eos_hidden_state(hidden, input_ids, self.config.pad_token_id or 0)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled)


class MSClapTextModelWithProjection(MSClapTextModel):
    """Text tower plus projection: ``text_embeds`` are the (unnormalized) 1024-d embeddings."""

    def __init__(self, config: MSClapTextConfig) -> None:
        super().__init__(config)
        self.text_projection = MSClapProjectionLayer(config)
        self.post_init()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> MSClapTextModelOutput:
        outputs = super().forward(input_ids=input_ids, attention_mask=attention_mask)
        return MSClapTextModelOutput(
            text_embeds=self.text_projection(outputs.pooler_output), last_hidden_state=outputs.last_hidden_state
        )


class MSClapAudioModelWithProjection(MSClapPreTrainedModel):
    """Audio tower plus projection: ``audio_embeds`` are the (unnormalized) 1024-d embeddings."""

    config: MSClapAudioConfig
    config_class = MSClapAudioConfig
    main_input_name = "input_features"
    input_modalities = "audio"

    def __init__(self, config: MSClapAudioConfig) -> None:
        super().__init__(config)
        self.audio_model = MSClapAudioModel(config)
        self.audio_projection = MSClapProjectionLayer(config)
        self.post_init()

    def forward(
        self, input_features: torch.Tensor, is_longer: torch.Tensor | None = None, **kwargs
    ) -> MSClapAudioModelOutput:
        outputs = self.audio_model(input_features=input_features, is_longer=is_longer)
        return MSClapAudioModelOutput(
            audio_embeds=self.audio_projection(outputs.pooler_output), last_hidden_state=outputs.last_hidden_state
        )


class MSClapModel(MSClapPreTrainedModel):
    """Both towers, both projections and the logit scale."""

    def __init__(self, config: MSClapConfig) -> None:
        super().__init__(config)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(config.logit_scale_init_value)))
        self.text_model = GPT2Model(config.text_config.gpt2_config())
        self.text_projection = MSClapProjectionLayer(config.text_config)
        self.audio_model = MSClapAudioModel(config.audio_config)
        self.audio_projection = MSClapProjectionLayer(config.audio_config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.wte

    def _text_embeds(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> tuple:
        outputs = self.text_model(input_ids=input_ids, attention_mask=attention_mask)
        pad_id = self.config.text_config.pad_token_id or 0
        pooled = eos_hidden_state(outputs.last_hidden_state, input_ids, pad_id)
        return self.text_projection(pooled), outputs

    def _audio_embeds(self, input_features: torch.Tensor, is_longer: torch.Tensor | None) -> tuple:
        outputs = self.audio_model(input_features=input_features, is_longer=is_longer)
        return self.audio_projection(outputs.pooler_output), outputs

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        """``pooler_output`` = L2-normalized projected text embeddings (as ``ClapModel`` in transformers 5)."""
        embeds, outputs = self._text_embeds(input_ids, attention_mask)
        normalized = F.normalize(embeds, dim=-1)
        return BaseModelOutputWithPooling(last_hidden_state=outputs.last_hidden_state, pooler_output=normalized)

    def get_audio_features(
        self, input_features: torch.Tensor, is_longer: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        """``pooler_output`` = L2-normalized projected audio embeddings."""
        embeds, outputs = self._audio_embeds(input_features, is_longer)
        normalized = F.normalize(embeds, dim=-1)
        return BaseModelOutputWithPooling(last_hidden_state=outputs.last_hidden_state, pooler_output=normalized)

    def forward(
        self,
        input_ids: torch.Tensor,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        is_longer: torch.Tensor | None = None,
        **kwargs,
    ) -> MSClapOutput:
        text_embeds, text_outputs = self._text_embeds(input_ids, attention_mask)
        audio_embeds, audio_outputs = self._audio_embeds(input_features, is_longer)
        text_embeds = F.normalize(text_embeds, dim=-1)
        audio_embeds = F.normalize(audio_embeds, dim=-1)
        logits_per_audio = audio_embeds @ text_embeds.t() * self.logit_scale.exp()
        return MSClapOutput(
            logits_per_audio=logits_per_audio,
            logits_per_text=logits_per_audio.t(),
            text_embeds=text_embeds,
            audio_embeds=audio_embeds,
            text_model_output=text_outputs,
            audio_model_output=audio_outputs,
        )
