"""The T5Gemma text encoder and tokenizer of a Stable Audio 3 conversion.

The stable-audio-3 reference keeps the frozen T5Gemma out of ``model.safetensors`` (the conditioner holds
it outside its registered modules) and names where to load it from in ``model_config.json``: the
released models say ``"repo_id": "stabilityai/stable-audio-3-<name>", "subfolder": "t5gemma-b-b-ul2"``,
i.e. a copy of ``google/t5gemma-b-b-ul2`` shipped in the same gated hub repo. So, in order: the
``--text-encoder`` given; the config's ``model_path``; that subfolder beside the checkpoint (a downloaded
snapshot); the subfolder on the hub (``repo_id``); the config's ``model_name`` on the hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError
from clapcli.models import hub
from clapcli.models.conversion.sa3_config import SA3Config


def text_encoder_source(cfg: SA3Config, folder: Path, given: str | None) -> tuple[str, str | None]:
    """(directory or hub id, hub subfolder or None) of the T5Gemma encoder to load."""
    ref = cfg.text_encoder
    if given:
        return given, None
    for candidate in (ref.model_path, ref.subfolder):
        if candidate:
            path = Path(candidate).expanduser()
            path = path if path.is_absolute() else folder / path
            if (path / "config.json").is_file():
                return str(path), None
    if ref.repo_id:
        return ref.repo_id, ref.subfolder
    return ref.model_name, None


def load_text_encoder(cfg: SA3Config, folder: Path, given: str | None, weights: dict) -> tuple[Any, Any, str]:
    """(T5GemmaEncoderModel, tokenizer, where they came from); ``weights``: encoder tensors the checkpoint holds."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, T5GemmaEncoderModel

    location, subfolder = text_encoder_source(cfg, folder, given)
    local = Path(location).expanduser().is_dir()
    if not local:
        location = _download(location, subfolder)
        subfolder = None
    where = f"{location}" + (f" ({subfolder})" if subfolder else "")
    try:
        config = AutoConfig.from_pretrained(location)
        config.is_encoder_decoder = False  # the encoder alone, as the reference and the pipeline load it
        encoder = T5GemmaEncoderModel.from_pretrained(location, config=config).eval()
        tokenizer = AutoTokenizer.from_pretrained(location)
    except Exception as exc:  # noqa: BLE001 - missing files, another model type: one line naming the place
        raise ModelLoadError(f"T5Gemma text encoder '{where}' could not be loaded ({type(exc).__name__}); give "
                             "the release's t5gemma-b-b-ul2 folder: 'clap convert stable-audio-3 RELEASE OUT "
                             "--text-encoder DIR'") from None
    hidden = int(encoder.config.encoder.hidden_size)
    if hidden != cfg.transformer["cond_token_dim"]:
        raise ModelLoadError(f"text encoder '{where}' gives {hidden}-dim states but the DiT takes "
                             f"{cfg.transformer['cond_token_dim']}; give the model's own T5Gemma: 'clap convert "
                             "stable-audio-3 RELEASE OUT --text-encoder DIR'")
    if weights:  # trained with the model: the checkpoint's copy wins, every key accounted for
        missing, unexpected = encoder.load_state_dict(weights, strict=False)
        if missing or unexpected:
            key = (list(unexpected) or list(missing))[0]
            raise ModelLoadError(f"the checkpoint's text-encoder weights do not fit '{where}' (e.g. '{key}')")
    tokenizer.model_max_length = cfg.max_length
    return encoder.to(torch.float32), tokenizer, where


def _download(repo: str, subfolder: str | None) -> str:
    """The hub folder (gated releases: one line naming the licence and the token)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    cache_only = not hub.hub_reachable()
    try:
        root = snapshot_download(repo, allow_patterns=[f"{subfolder}/*"] if subfolder else None,
                                 local_files_only=cache_only, etag_timeout=hub.hub_timeout())
    except GatedRepoError:
        raise hub.gated_error(repo) from None
    except (LocalEntryNotFoundError, RepositoryNotFoundError, OSError) as exc:
        reason = "offline and not cached" if cache_only else type(exc).__name__
        raise ModelLoadError(f"T5Gemma text encoder '{repo}' could not be fetched ({reason}); give a local copy: "
                             "'clap convert stable-audio-3 RELEASE OUT --text-encoder DIR'") from None
    return str(Path(root) / subfolder) if subfolder else root
