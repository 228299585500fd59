"""``clap download``: fetch checkpoints into the Hugging Face cache ahead of time (offline machines,
CI caches). A checkpoint already in the cache is not fetched again; the hub is probed once with a
bounded timeout (``models.hub.hub_reachable``) so an offline machine fails in seconds, and every request
after it is bounded too (``models.hub_http``), so a hub that stalls or trickles ends the run in seconds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clapcli.errors import ModelLoadError
from clapcli.models import hub, hub_http, registry

# Weights in other frameworks' formats, never read by clapcli; .bin only where no .safetensors exists.
IGNORED = ["*.msgpack", "*.h5", "*.ot", "*.onnx", "*.tflite", "*.ckpt", "*.pt", "*.pth"]


@dataclass
class Downloaded:
    name: str  # as given
    repo_id: str
    path: Path  # the snapshot directory in the cache
    fetched: bool  # False: it was in the cache already


def resolve(name: str) -> hub.ModelRef:
    """An alias of either kind (embedding first), a hub id; a local directory needs no download."""
    ref = hub.resolve_ref(name, {**registry.GENERATION_ALIASES, **registry.EMBEDDING_ALIASES})
    if ref.is_local:
        raise ModelLoadError(f"'{name}' is a local directory; there is nothing to download")
    return ref


def download(name: str) -> Downloaded:
    """The whole checkpoint (or AudioLDM 2 pipeline) of ``name`` in the local cache (progress bars are
    huggingface_hub's: on a terminal, not with --quiet, erased when done)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    ref = resolve(name)
    try:
        cached = Path(snapshot_download(ref.location, local_files_only=True))
        return Downloaded(name, ref.location, cached, fetched=False)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    if hub.offline_by_env():
        raise ModelLoadError(f"'{ref.location}' is not in the cache, and HF_HUB_OFFLINE is set: unset it to download")
    if not hub.hub_reachable():
        raise ModelLoadError(
            f"cannot download '{ref.location}': {hub.unreachable_reason()}; run 'clap download {name}' where the "
            "hub is reachable and copy the cache ($HF_HOME, ~/.cache/huggingface) here"
        )
    ignored = list(IGNORED)
    if _has_safetensors(ref.location):
        ignored.append("*.bin")
    bars = _transient_bars()
    try:
        path = Path(snapshot_download(ref.location, ignore_patterns=ignored, tqdm_class=bars))
    except Exception as exc:  # noqa: BLE001 - huggingface_hub raises many kinds; one line each
        reason = _stall_reason(name) or _reason(exc, ref.location)
        raise ModelLoadError(f"cannot download '{ref.location}': {reason}") from None
    finally:
        bars.close_all()
    return Downloaded(name, ref.location, path, fetched=True)


def _transient_bars():
    """huggingface_hub's bars (drawn on a terminal only, none with HF_HUB_DISABLE_PROGRESS_BARS), erased
    when done, all closed when the snapshot returns: it leaves two open for the garbage collector, whose
    last lines would land after ours."""
    from huggingface_hub.utils import tqdm

    class TransientBars(tqdm):
        opened: list[tqdm] = []

        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - tqdm's signature
            kwargs["leave"] = False
            super().__init__(*args, **kwargs)
            TransientBars.opened.append(self)

        @classmethod
        def close_all(cls) -> None:
            for bar in cls.opened:
                bar.close()
            cls.opened.clear()

    return TransientBars


def _has_safetensors(repo_id: str) -> bool:
    from huggingface_hub import HfApi

    try:
        return any(f.endswith(".safetensors") for f in HfApi().list_repo_files(repo_id))
    except Exception:  # noqa: BLE001 - listing is an optimisation; the download reports real errors
        return False


def _stall_reason(name: str) -> str | None:
    """What stalled and what to do, when the hub stopped answering or sending during this run
    (``models.hub_http``: every request is bounded by CLAPCLI_HUB_TIMEOUT)."""
    stalled = hub_http.stall()
    if stalled is None:
        return None
    if stalled.partial:  # huggingface_hub keeps the partial file in its cache and resumes it
        return f"{stalled.describe()}; run the same command again to resume"
    return f"{stalled.describe()}; run 'clap download {name}' again when the hub answers"


def _reason(exc: BaseException, repo: str) -> str:
    from clapcli.text import first_line

    name = type(exc).__name__
    if name == "RepositoryNotFoundError":
        return "no such model on the hub (or it is private: log in with 'hf auth login')"
    if name == "GatedRepoError":
        from clapcli.models.hub import gated_error

        return str(gated_error(repo)).replace(f"model '{repo}' is gated", "the model is gated")
    return f"{name}: {first_line(exc)}"
