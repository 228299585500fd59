"""Configuration of the MS-CLAP port (Microsoft CLAP 2023: HTSAT-tiny audio tower, GPT-2 text tower).

Field names follow the converted ``kamilakesbi/ms_clap`` checkpoint (transformers PR 31929), so its
``config.json`` loads here: the text config keeps GPT-2's own field names flat, the audio config is a
``ClapAudioConfig`` (the HTSAT encoder is transformers' ``ClapAudioEncoder``).
"""

from __future__ import annotations

from transformers import ClapAudioConfig, GPT2Config, PreTrainedConfig


class MSClapAudioConfig(ClapAudioConfig):
    """HTSAT audio tower + projection. Defaults are MS-CLAP 2023 (HTSAT-tiny, 768 -> 1024)."""

    model_type = "msclap_audio_model"
    base_config_key = "audio_config"

    hidden_size: int = 768
    projection_dim: int = 1024
    projection_dropout_prob: float = 0.5


class MSClapTextConfig(PreTrainedConfig):
    """GPT-2 text tower + projection. Defaults are GPT-2 small, the tower MS-CLAP 2023 uses."""

    model_type = "msclap_text_model"
    base_config_key = "text_config"

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    n_inner: int | None = None
    activation_function: str = "gelu_new"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    hidden_size: int = 768
    projection_dim: int = 1024
    projection_dropout_prob: float = 0.5
    initializer_factor: float = 1.0
    # The original pads with "!" (GPT-2 id 0) and finds the EOS by counting non-zero ids.
    pad_token_id: int | None = 0
    bos_token_id: int | None = 50256
    eos_token_id: int | None = 50256

    def gpt2_config(self) -> GPT2Config:
        """The configuration of the GPT-2 model inside the text tower."""
        return GPT2Config(
            vocab_size=self.vocab_size,
            n_positions=self.n_positions,
            n_embd=self.n_embd,
            n_layer=self.num_hidden_layers,
            n_head=self.num_attention_heads,
            n_inner=self.n_inner,
            activation_function=self.activation_function,
            resid_pdrop=self.resid_pdrop,
            embd_pdrop=self.embd_pdrop,
            attn_pdrop=self.attn_pdrop,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
            bos_token_id=self.bos_token_id,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
        )


class MSClapConfig(PreTrainedConfig):
    """The full MS-CLAP model: text tower, audio tower, shared projection size, one logit scale."""

    model_type = "msclap"
    sub_configs_defaults = {"text_config": MSClapTextConfig, "audio_config": MSClapAudioConfig}

    text_config: dict | PreTrainedConfig | None = None
    audio_config: dict | PreTrainedConfig | None = None
    logit_scale_init_value: float = 1 / 0.07
    projection_dim: int = 1024
    initializer_factor: float = 1.0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.text_config.projection_dim = self.projection_dim
        self.audio_config.projection_dim = self.projection_dim
        self.hidden_size = self.text_config.hidden_size
        self.num_hidden_layers = self.text_config.num_hidden_layers + len(self.audio_config.depths)

    @classmethod
    def from_text_audio_configs(
        cls, text_config: MSClapTextConfig, audio_config: MSClapAudioConfig, **kwargs
    ) -> MSClapConfig:
        """Build from the two tower configs (projection size taken from the audio tower by default)."""
        kwargs.setdefault("projection_dim", audio_config.projection_dim)
        return cls(text_config=text_config.to_dict(), audio_config=audio_config.to_dict(), **kwargs)
