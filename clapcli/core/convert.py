"""Convert original MS-CLAP (``CLAP_weights_2023.pth``) and LAION-CLAP (``*.pt``) checkpoints to HF form.

Every key of the original is accounted for: renamed into the Hugging Face layout, or matched by a
pattern in an explicit "intentionally dropped" list (feature-extraction buffers the processor now
computes, training-only heads). Anything else, and any key the target model needs but the checkpoint
lacks, is an error: nothing is loaded with a silent ``strict=False``. Checkpoints are read with
``torch.load(weights_only=True)``, so a pickle that needs arbitrary code is refused, never run.

Architecture sizes are read from the tensor shapes; attention head counts, which shapes do not
carry, come from the Swin bias tables (audio) and from "head size 64" (text, true for GPT-2 and
RoBERTa-base), unless ``text_heads`` is given.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError, OutputError, UsageError

FAMILIES = ("msclap", "laion")
LAION_AMODELS = {"HTSAT-tiny": (96, [2, 2, 6, 2]), "HTSAT-base": (128, [2, 2, 12, 2])}
DEFAULT_TOKENIZERS = {"msclap": "gpt2", "laion": "roberta-base"}
MIN_TOKENIZER_SIZE = 100

# HTSAT (both families) -> transformers ClapAudioEncoder, applied to the part after the tower prefix.
_HTSAT_RENAMES = [
    (r"^bn0\.", "batch_norm."),
    (r"\.norm1\.", ".layernorm_before."),
    (r"\.norm2\.", ".layernorm_after."),
    (r"\.attn\.proj\.", ".attention.output.dense."),
    (r"\.attn\.relative_position_", ".attention.self.relative_position_"),
    (r"\.mlp\.fc1\.", ".intermediate.dense."),
    (r"\.mlp\.fc2\.", ".output.dense."),
]
# Recomputed by the feature extractor, or only used by HTSAT's AudioSet classifier / Swin masks.
_HTSAT_DROPPED = [r"spectrogram_extractor\.", r"logmel_extractor\.", r"tscam_conv\.", r"^head\.", r"attn_mask$"]

_MSCLAP_PREFIXES = [
    ("audio_encoder.base.htsat.", "audio_model.audio_encoder.", True),
    ("audio_encoder.projection.", "audio_projection.", False),
    ("caption_encoder.base.", "text_model.", False),
    ("caption_encoder.projection.", "text_projection.", False),
    ("logit_scale", "logit_scale", False),
]
_MSCLAP_DROPPED = [r"^caption_encoder\.base\.h\.\d+\.attn\.(bias|masked_bias)$"]  # old GPT-2 mask buffers

_LAION_PREFIXES = [
    ("audio_branch.", "audio_model.audio_encoder.", True),
    ("text_branch.", "text_model.", False),
    ("text_projection.0.", "text_projection.linear1.", False),
    ("text_projection.2.", "text_projection.linear2.", False),
    ("audio_projection.0.", "audio_projection.linear1.", False),
    ("audio_projection.2.", "audio_projection.linear2.", False),
    ("logit_scale_a", "logit_scale_a", False),
    ("logit_scale_t", "logit_scale_t", False),
]
# The MLPs after the projections are used in training only; position_ids is a buffer older
# transformers saved and newer ones rebuild.
_LAION_DROPPED = [r"^text_transform\.", r"^audio_transform\.", r"^text_branch\.embeddings\.position_ids$"]

# Buffers the target model builds itself; the original may or may not carry them.
_DERIVED = [r"relative_position_index$", r"embeddings\.position_ids$", r"embeddings\.token_type_ids$"]


@dataclass
class ConversionReport:
    family: str
    source: str
    output: str
    parameters: dict[str, int]
    mapped_keys: int
    dropped_keys: list[str]
    dropped_patterns: dict[str, int]
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


# --------------------------------------------------------------------------- reading

def load_original_state_dict(path: str | Path) -> dict:
    """The checkpoint's tensors, read without running pickled code; "module." prefixes removed."""
    import pickle

    import torch

    path = _existing_checkpoint(path)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "unsafe pickle"
        raise ModelLoadError(
            f"checkpoint '{path}' needs arbitrary Python code to load, which clapcli refuses to run "
            f"({reason}); re-save its state_dict with torch.save from a trusted environment"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"checkpoint '{path}' is not a readable PyTorch checkpoint ({first})") from None
    return _unwrap(checkpoint, path)


def _existing_checkpoint(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"checkpoint '{path}' does not exist; pass the path of the original .pth/.pt file")
    return path


def _numpy_safe_globals() -> list:
    """numpy scalars and dtypes, which training scripts leave in checkpoints (a best score, say):
    plain data, rebuilt without running code, so allowed beside tensors.

    numpy 2 moved ``numpy.core`` to ``numpy._core``; checkpoints written with numpy 1 (the released
    LAION ones) name ``numpy.core.multiarray.scalar``. Both spellings map to the installed function by
    name, so the numpy-1 module is never imported. Nothing else from numpy is allowed."""
    import numpy as np

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    dtypes = [type(np.dtype(name)) for name in ("float16", "float32", "float64", "int32", "int64", "bool")]
    aliases = [(scalar, f"{module}.multiarray.scalar") for module in ("numpy.core", "numpy._core")]
    return [*aliases, (np.dtype, "numpy.dtype"), *dtypes]


def _unwrap(checkpoint: Any, path: Path) -> dict:
    import torch

    state = checkpoint
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state:
        raise ModelLoadError(f"checkpoint '{path}' holds no state dict (expected a 'model' or 'state_dict' entry)")
    tensors = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ModelLoadError(f"checkpoint '{path}': entry '{key}' is not a tensor; is this a model checkpoint?")
        tensors[key[len("module."):] if key.startswith("module.") else key] = value
    return tensors


# --------------------------------------------------------------------------- key mapping

def _matches(key: str, patterns: list[str]) -> str | None:
    return next((pattern for pattern in patterns if re.search(pattern, key)), None)


def _rename_htsat(rest: str, value, out: dict, target_prefix: str) -> None:
    if ".attn.qkv." in rest:
        # The original fuses q, k and v in one linear; transformers keeps three.
        for name, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True):
            out[target_prefix + rest.replace(".attn.qkv.", f".attention.self.{name}.")] = chunk.clone()
        return
    for pattern, replacement in _HTSAT_RENAMES:
        rest = re.sub(pattern, replacement, rest)
    out[target_prefix + rest] = value


def map_keys(state: dict, family: str) -> tuple[dict, list[str], list[str], dict[str, int]]:
    """(mapped tensors, dropped keys, unknown keys, dropped count per pattern)."""
    prefixes = _MSCLAP_PREFIXES if family == "msclap" else _LAION_PREFIXES
    dropped_patterns = _MSCLAP_DROPPED if family == "msclap" else _LAION_DROPPED
    mapped: dict = {}
    dropped: list[str] = []
    unknown: list[str] = []
    counts: dict[str, int] = {}
    for key, value in state.items():
        pattern = _matches(key, dropped_patterns)
        rule = next(((src, dst, htsat) for src, dst, htsat in prefixes if key.startswith(src)), None)
        if pattern is None and rule is not None and rule[2]:
            pattern = _matches(key[len(rule[0]):], _HTSAT_DROPPED)
        if pattern is not None:
            dropped.append(key)
            counts[pattern] = counts.get(pattern, 0) + 1
        elif rule is None:
            unknown.append(key)
        elif rule[2]:
            _rename_htsat(key[len(rule[0]):], value, mapped, rule[1])
        else:
            mapped[rule[1] + key[len(rule[0]):]] = value
    return mapped, dropped, unknown, counts


# --------------------------------------------------------------------------- config inference

def _require(state: dict, key: str, source: str, hint: str = "") -> Any:
    if key not in state:
        raise ModelLoadError(f"checkpoint '{source}' is missing key '{key}'{hint}")
    return state[key]


def _dim(state: dict, key: str, source: str) -> int:
    return int(_require(state, key, source).shape[0])


def _count(state: dict, pattern: str) -> int:
    indices = {int(m.group(1)) for key in state if (m := re.match(pattern, key))}
    return max(indices) + 1 if indices else 0


def infer_htsat(state: dict, prefix: str, source: str) -> dict:
    """ClapAudioConfig fields from an original HTSAT's shapes."""
    embed = _require(state, f"{prefix}patch_embed.proj.weight", source).shape[0]
    n_layers = _count(state, re.escape(prefix) + r"layers\.(\d+)\.")
    if n_layers == 0:
        raise ModelLoadError(f"checkpoint '{source}' has no HTSAT layers under '{prefix}'")
    depths, heads = [], []
    for i in range(n_layers):
        depths.append(_count(state, re.escape(f"{prefix}layers.{i}.blocks.") + r"(\d+)\."))
        table = _require(state, f"{prefix}layers.{i}.blocks.0.attn.relative_position_bias_table", source)
        heads.append(int(table.shape[1]))
    table_rows = state[f"{prefix}layers.0.blocks.0.attn.relative_position_bias_table"].shape[0]
    window = (int(round(math.sqrt(table_rows))) + 1) // 2
    fc1 = _require(state, f"{prefix}layers.0.blocks.0.mlp.fc1.weight", source)
    return {
        "patch_embeds_hidden_size": int(embed),
        "depths": depths,
        "num_attention_heads": heads,
        "window_size": window,
        "mlp_ratio": float(fc1.shape[0] / embed),
        "num_mel_bins": int(_require(state, f"{prefix}bn0.weight", source).shape[0]),
        "hidden_size": int(embed * 2 ** (n_layers - 1)),
        "num_hidden_layers": n_layers,
    }


def infer_gpt2(state: dict, prefix: str, source: str, heads: int | None) -> dict:
    wte = _require(state, f"{prefix}wte.weight", source)
    n_embd = int(wte.shape[1])
    c_fc = _require(state, f"{prefix}h.0.mlp.c_fc.weight", source)  # Conv1D: (in, out)
    return {
        "vocab_size": int(wte.shape[0]),
        "n_positions": int(_require(state, f"{prefix}wpe.weight", source).shape[0]),
        "n_embd": n_embd,
        "hidden_size": n_embd,
        "num_hidden_layers": _count(state, re.escape(prefix) + r"h\.(\d+)\."),
        "num_attention_heads": heads or max(1, n_embd // 64),
        "n_inner": None if c_fc.shape[1] == 4 * n_embd else int(c_fc.shape[1]),
    }


def infer_roberta(state: dict, prefix: str, source: str, heads: int | None) -> dict:
    words = _require(state, f"{prefix}embeddings.word_embeddings.weight", source)
    hidden = int(words.shape[1])
    return {
        "vocab_size": int(words.shape[0]),
        "hidden_size": hidden,
        "num_hidden_layers": _count(state, re.escape(prefix) + r"encoder\.layer\.(\d+)\."),
        "num_attention_heads": heads or max(1, hidden // 64),
        "intermediate_size": _dim(state, f"{prefix}encoder.layer.0.intermediate.dense.weight", source),
        "max_position_embeddings": _dim(state, f"{prefix}embeddings.position_embeddings.weight", source),
        "type_vocab_size": int(_require(state, f"{prefix}embeddings.token_type_embeddings.weight", source).shape[0]),
        # roberta-base's values, which LAION's text tower is built from
        "layer_norm_eps": 1e-5,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "hidden_act": "gelu",
    }


def build_msclap_config(state: dict, source: str, text_heads: int | None = None):
    from clapcli.models.msclap.configuration import MSClapAudioConfig, MSClapConfig, MSClapTextConfig

    audio = infer_htsat(state, "audio_encoder.base.htsat.", source)
    projection = int(_require(state, "audio_encoder.projection.linear1.weight", source).shape[0])
    text = infer_gpt2(state, "caption_encoder.base.", source, text_heads)
    return MSClapConfig.from_text_audio_configs(
        MSClapTextConfig(projection_dim=projection, **text),
        MSClapAudioConfig(projection_dim=projection, **audio),
        projection_dim=projection,
    )


def build_laion_config(state: dict, source: str, fused: bool, amodel: str | None, text_heads: int | None = None):
    from transformers import ClapConfig

    audio = infer_htsat(state, "audio_branch.", source)
    if amodel is not None:
        if amodel not in LAION_AMODELS:
            raise UsageError(f"--amodel {amodel!r}: choose one of {', '.join(LAION_AMODELS)}")
        embed, depths = LAION_AMODELS[amodel]
        if (audio["patch_embeds_hidden_size"], audio["depths"]) != (embed, depths):
            raise ModelLoadError(
                f"checkpoint '{source}' is not {amodel} (audio width {audio['patch_embeds_hidden_size']}, "
                f"depths {audio['depths']}); pass the matching --amodel"
            )
    projection = int(_require(state, "audio_projection.0.weight", source).shape[0])
    audio.update(enable_fusion=fused, projection_dim=projection)
    text = infer_roberta(state, "text_branch.", source, text_heads)
    text["projection_dim"] = projection
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=projection)


# --------------------------------------------------------------------------- the model

def _check_keys(model, mapped: dict, unknown: list[str], source: str, family: str, fused: bool) -> None:
    expected = model.state_dict()
    unexpected = sorted(unknown + [k for k in mapped if k not in expected])
    hint = ""
    if family == "laion":
        hint = " (not a fusion checkpoint? drop --fused)" if fused else " (a fusion checkpoint? pass --fused)"
    if unexpected:
        raise ModelLoadError(
            f"checkpoint '{source}' has {len(unexpected)} unexpected key(s), e.g. '{unexpected[0]}'; "
            f"is it an original {family} checkpoint?{hint}"
        )
    missing = sorted(k for k in expected if k not in mapped and _matches(k, _DERIVED) is None)
    if missing:
        raise ModelLoadError(
            f"checkpoint '{source}' lacks {len(missing)} key(s) the model needs, e.g. '{missing[0]}'; "
            f"is it a complete original {family} checkpoint?{hint}"
        )
    for key, value in mapped.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelLoadError(
                f"checkpoint '{source}': '{key}' has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}"
            )


def build_model(state: dict, family: str, source: str, fused: bool = False, amodel: str | None = None,
                text_heads: int | None = None):
    """(HF model with the checkpoint's weights, report pieces)."""
    import torch

    if family == "msclap":
        from clapcli.models.msclap.modeling import MSClapModel

        config = build_msclap_config(state, source, text_heads)
        model_class = MSClapModel
    else:
        from transformers import ClapModel

        config = build_laion_config(state, source, fused, amodel, text_heads)
        model_class = ClapModel
    mapped, dropped, unknown, counts = map_keys(state, family)
    model = model_class(config).eval()
    _check_keys(model, mapped, unknown, source, family, fused)
    full = model.state_dict()
    full.update({k: v.to(full[k].dtype) if v.is_floating_point() else v for k, v in mapped.items()})
    with torch.no_grad():
        model.load_state_dict(full, strict=True)
    return model, mapped, dropped, counts


def count_parameters(model) -> dict[str, int]:
    groups: dict[str, int] = {}
    for name, tensor in model.named_parameters():
        group = name.split(".", 1)[0]
        groups[group] = groups.get(group, 0) + tensor.numel()
    groups["total"] = sum(groups.values())
    return groups


# --------------------------------------------------------------------------- processors

def load_tokenizer(name: str, family: str, vocab_size: int):
    from transformers import AutoTokenizer

    from clapcli.models.hub import hub_reachable, offline

    path = Path(name).expanduser()
    if not path.exists():
        hub_reachable()  # a silent hub turns the run offline in seconds instead of minutes of retries
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path) if path.exists() else name)
    except Exception as exc:  # noqa: BLE001 - any failure here means "tokenizer unavailable"
        where = "offline and not cached" if offline() else type(exc).__name__
        raise ModelLoadError(
            f"tokenizer '{name}' could not be loaded ({where}); pass a local {DEFAULT_TOKENIZERS[family]} "
            "tokenizer directory with --tokenizer"
        ) from None
    size = len(tokenizer)
    if size < MIN_TOKENIZER_SIZE or size > vocab_size:
        raise ModelLoadError(
            f"tokenizer '{name}' has {size} tokens but the checkpoint's vocabulary has {vocab_size}; "
            f"pass the matching {DEFAULT_TOKENIZERS[family]} tokenizer with --tokenizer"
        )
    return tokenizer


def build_processor(family: str, tokenizer, fused: bool):
    if family == "msclap":
        from clapcli.models.msclap.feature_extraction import MSClapFeatureExtractor
        from clapcli.models.msclap.processing import MSClapProcessor

        return MSClapProcessor(MSClapFeatureExtractor(), tokenizer)
    from transformers import ClapFeatureExtractor, ClapProcessor

    # LAION trained with fmin 50 Hz (ClapFeatureExtractor defaults to 0), as laion/clap-htsat-* configs say.
    extractor = ClapFeatureExtractor(
        truncation="fusion" if fused else "rand_trunc", padding="repeatpad", frequency_min=50, frequency_max=14000
    )
    return ClapProcessor(extractor, tokenizer)


# --------------------------------------------------------------------------- entry point

MANIFEST = "clapcli-convert.json"  # marks a directory clap convert wrote, and lists its files


def _prepare_output(output: Path, checkpoint: Path, overwrite: bool) -> Path:
    """The resolved output directory, after refusing every OUT whose replacement could destroy a user file."""
    target = output.resolve()  # a symlinked OUT: what it points at is what gets replaced
    if target.exists() and not target.is_dir():
        raise OutputError(f"output '{output}' exists and is a file; pass a directory path")
    source = checkpoint.expanduser()
    homes = {source.absolute().parent, source.resolve().parent}  # the link's folder and the real file's
    if any(target == folder or target in folder.parents for folder in homes):
        suggestion = source.parent / f"{source.stem}-hf"
        raise OutputError(
            f"output directory '{output}' holds the checkpoint '{checkpoint}'; write to a new directory, "
            f"e.g. '{suggestion}'"
        )
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise OutputError(
            f"output directory '{output}' is the current directory or holds it; write to a new directory"
        )
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise OutputError(f"output directory '{output}' exists and is not empty; add --overwrite to replace it")
        _check_replaceable(target, output)
    return target


def _check_replaceable(target: Path, output: Path) -> None:
    """--overwrite replaces only what clap convert wrote: its manifest and the files the manifest lists."""
    written = _manifest_files(target)
    if written is None:
        raise OutputError(
            f"output directory '{output}' was not written by clap convert (no {MANIFEST}); --overwrite "
            "replaces only such a directory: remove it yourself or choose another output directory"
        )
    for entry in sorted(target.iterdir()):
        if entry.name not in written or entry.is_symlink() or not entry.is_file():
            raise OutputError(
                f"output directory '{output}' holds '{entry.name}', which clap convert did not write; "
                "remove it yourself or choose another output directory"
            )


def _manifest_files(folder: Path) -> set[str] | None:
    """Names clap convert wrote into ``folder`` (manifest included), or None when it is not ours."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("written_by") != "clapcli convert":
        return None
    files = manifest.get("files")
    if not isinstance(files, list):
        return None
    return {name for name in files if isinstance(name, str) and "/" not in name} | {MANIFEST}


def convert_checkpoint(
    family: str,
    checkpoint: str | Path,
    output: str | Path,
    tokenizer: str | None = None,
    fused: bool = False,
    amodel: str | None = None,
    overwrite: bool = False,
    text_heads: int | None = None,
) -> ConversionReport:
    """Convert one original checkpoint into a Hugging Face directory; returns what was done."""
    if family not in FAMILIES:
        raise UsageError(f"unknown checkpoint family {family!r}; choose one of {', '.join(FAMILIES)}")
    if family == "msclap" and (fused or amodel):
        raise UsageError("--fused and --amodel apply to 'laion' checkpoints only")
    output = Path(output).expanduser()
    target = _prepare_output(output, _existing_checkpoint(checkpoint), overwrite)  # before the slow part
    _quiet_transformers()
    source = str(Path(checkpoint).expanduser())
    state = load_original_state_dict(checkpoint)
    model, mapped, dropped, counts = build_model(state, family, source, fused, amodel, text_heads)
    vocab = model.config.text_config.vocab_size
    processor = build_processor(family, load_tokenizer(tokenizer or DEFAULT_TOKENIZERS[family], family, vocab), fused)
    _write(model, processor, target, output, source)
    return ConversionReport(
        family=family,
        source=source,
        output=str(target),
        parameters=count_parameters(model),
        mapped_keys=len(mapped),
        dropped_keys=sorted(dropped),
        dropped_patterns=counts,
        config={"fused": fused, "audio_width": model.config.audio_config.patch_embeds_hidden_size,
                "audio_depths": list(model.config.audio_config.depths), "projection_dim": model.config.projection_dim},
    )


def _quiet_transformers() -> None:
    """save_pretrained's shard progress bar would garble stderr, where our report and one-line errors go."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _write(model, processor, target: Path, output: Path, source: str) -> None:
    """Write into a sibling temp dir, then swap it in: no half-written model, and no lost old one, on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        processor.save_pretrained(staging)
        processor.feature_extractor.save_pretrained(staging)  # preprocessor_config.json for AutoFeatureExtractor
        _write_manifest(staging, source)
        _swap_in(staging, target, output)
    except OSError as exc:
        raise OutputError(f"could not write '{output}': {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful swap


def _write_manifest(folder: Path, source: str) -> None:
    from clapcli import __version__

    files = sorted(entry.name for entry in folder.iterdir())
    if any(not (folder / name).is_file() for name in files):  # --overwrite would refuse our own output
        raise OutputError(f"conversion wrote a subdirectory into '{folder}'; please report this")
    manifest = {"written_by": "clapcli convert", "clapcli_version": __version__, "source": source, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _swap_in(staging: Path, target: Path, output: Path) -> None:
    """Old aside, new in, then delete the old: a failed rename puts the old directory back."""
    if not target.exists() or not any(target.iterdir()):
        _rename(staging, target)  # onto nothing or an empty directory (POSIX rename replaces it)
        return
    _check_replaceable(target, output)  # again: files may have appeared during the conversion
    aside = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    _rename(target, aside)
    try:
        _rename(staging, target)
    except OSError:
        _rename(aside, target)
        raise
    _remove_written(aside)


def _rename(source: Path, destination: Path) -> None:
    os.rename(source, destination)  # a seam for tests that simulate a failing rename


def _remove_written(folder: Path) -> None:
    """Delete only the files our manifest lists: anything that appeared meanwhile stays, with its folder."""
    for name in _manifest_files(folder) or ():
        (folder / name).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass
