"""Our greedy loop over AudioLDM 2's GPT-2: the "8 generated embeddings" (docs/design.md §3).

diffusers drives the language model through ``GenerationMixin`` internals, which ``GPT2Model`` lost in
transformers 4.50. The loop itself is small: feed the projected text embeddings, append the last
hidden state as the next input embedding, reuse the key/value cache. It calls the model exactly as
the diffusers loop does (same inputs, mask and cache), so the results are identical.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def generate_hidden_states(
    language_model: torch.nn.Module,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None,
    max_new_tokens: int,
) -> torch.Tensor:
    """The ``max_new_tokens`` hidden states GPT-2 generates after ``inputs_embeds``: (batch, new, dim)."""
    past = None
    step_input = inputs_embeds
    for _ in range(max_new_tokens):
        output = language_model(
            inputs_embeds=step_input,
            attention_mask=attention_mask,
            past_key_values=past,
            use_cache=True,
            output_hidden_states=True,
            return_dict=True,
        )
        # The last entry of hidden_states is after the final layer norm (= last_hidden_state).
        next_embeds = output.hidden_states[-1][:, -1:, :]
        inputs_embeds = torch.cat([inputs_embeds, next_embeds], dim=1)
        step_input = next_embeds  # with the cache, only the new position is fed
        past = output.past_key_values
        if attention_mask is not None:
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], dim=-1)
    return inputs_embeds[:, -max_new_tokens:, :]
