"""Our greedy loop over AudioLDM 2's GPT-2: the "8 generated embeddings" (docs/design.md §3).

diffusers drives the language model through ``GenerationMixin`` internals, which ``GPT2Model`` lost in
transformers 4.50. The loop itself is small: feed the projected text embeddings, append the last
hidden state as the next input embedding, reuse the key/value cache. It calls the model exactly as
the diffusers loop does (same inputs, mask and cache), so the results are identical.

The cache goes in under the name the installed GPT-2 takes: ``cache`` since transformers 5.2x, which
warns (a FutureWarning on every ``clap generate``) when it is handed ``past_key_values``.
"""

from __future__ import annotations

import inspect

import torch


def _cache_name(language_model: torch.nn.Module) -> str:
    """``cache`` (transformers >= 5.2x) or ``past_key_values`` (earlier), as its ``forward`` names it."""
    return "cache" if "cache" in inspect.signature(language_model.forward).parameters else "past_key_values"


@torch.no_grad()
def generate_hidden_states(
    language_model: torch.nn.Module,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None,
    max_new_tokens: int,
) -> torch.Tensor:
    """The ``max_new_tokens`` hidden states GPT-2 generates after ``inputs_embeds``: (batch, new, dim)."""
    past = None
    cache = _cache_name(language_model)
    step_input = inputs_embeds
    for _ in range(max_new_tokens):
        output = language_model(
            inputs_embeds=step_input,
            attention_mask=attention_mask,
            use_cache=True,
            output_hidden_states=True,
            return_dict=True,
            **{cache: past},
        )
        # The last entry of hidden_states is after the final layer norm (= last_hidden_state).
        next_embeds = output.hidden_states[-1][:, -1:, :]
        inputs_embeds = torch.cat([inputs_embeds, next_embeds], dim=1)
        step_input = next_embeds  # with the cache, only the new position is fed
        past = getattr(output, cache)
        if attention_mask is not None:
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], dim=-1)
    return inputs_embeds[:, -max_new_tokens:, :]
