"""Finding checkpoint files: local directories, hub ids and aliases, with the offline rules.

Every failure becomes a one-line ``ModelLoadError`` that says what to do. One piece (above ~300
lines): the offline rules, the probe, the stall state (``hub_http``) and the messages they share.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError, UsageError
from clapcli.models import hub_http
from clapcli.text import first_line

# Seconds a hub request may wait to connect or for an answer (CLAPCLI_HUB_TIMEOUT overrides).
DEFAULT_HUB_TIMEOUT = 10.0

# A real tokenizer for these families has tens of thousands of entries; transformers can
# silently hand back a 5-token one when the files are missing (docs/design.md §3).
MIN_TOKENIZER_SIZE = 100


class FileMissing(ModelLoadError):
    """The checkpoint exists but lacks this file."""


class NotCached(ModelLoadError):
    """Offline (or the hub is unreachable) and the file is not in the local cache."""


@dataclass(frozen=True)
class ModelRef:
    """Where a model lives: ``name`` as the user gave it, ``location`` a hub id or a local dir."""

    name: str
    location: str
    is_local: bool

    @property
    def model_id(self) -> str:
        """The id recorded in outputs: the hub id, or the resolved local path."""
        return self.location


def resolve_ref(name: str, aliases: dict[str, str]) -> ModelRef:
    """Alias -> hub id; an existing path -> local directory; anything else -> hub id."""
    name = name.strip()
    if not name:
        raise ModelLoadError("--model is empty; pass a hub id, an alias (see 'clap models') or a local directory")
    path = Path(name).expanduser()
    if path.exists():
        return ModelRef(name, str(path.resolve()), True)
    user = _user_alias(name)
    if user is not None:
        return _resolve_user_alias(name, user, aliases)
    if name in aliases:
        _warn_if_ambiguous(name, aliases[name])
        return ModelRef(name, aliases[name], False)
    if name.startswith((".", "/", "~")) or os.sep in name.rstrip("/").split("/", 1)[-1]:
        raise ModelLoadError(f"model directory '{name}' does not exist; pass an existing directory or a hub id")
    if name.count("/") != 1:
        raise ModelLoadError(
            f"model '{name}' is neither an alias, a local directory nor a hub id (owner/name); run 'clap models'"
        )
    return ModelRef(name, name, False)


def _user_alias(name: str) -> str | None:
    from clapcli import settings

    return settings.user_aliases().get(name)


def _resolve_user_alias(name: str, target: str, aliases: dict[str, str]) -> ModelRef:
    """A user alias names a local directory, a built-in alias or a hub id (never another user alias, so
    aliases cannot loop)."""
    path = Path(target).expanduser()
    if path.is_absolute() or target.startswith((".", "~")):
        if not path.is_dir():
            raise ModelLoadError(f"alias '{name}' names the directory '{target}', which does not exist; point it "
                                 f"elsewhere with 'clap models alias add {name} DIR --force' or remove it with "
                                 f"'clap models alias rm {name}'")
        return ModelRef(name, str(path.resolve()), True)
    return ModelRef(name, aliases.get(target, target), False)


def offline() -> bool:
    """HF_HUB_OFFLINE is set, or the hub did not answer the probe (or stalled) earlier in this run."""
    return _offline_by_env() or any(reason is not None for reason in _unreachable.values()) or \
        hub_http.stall() is not None


def _offline_by_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_timeout() -> float:
    """Connect/read timeout for hub requests, in seconds."""
    from clapcli import settings

    found = settings.lookup("hub_timeout")
    if found is None:
        return DEFAULT_HUB_TIMEOUT
    if not found.variable:
        return float(found.value)  # type: ignore[arg-type] - checked when the file was read
    try:
        value = float(found.value)  # type: ignore[arg-type]
    except ValueError:
        value = -1.0
    if not 0 < value < 3600:
        raise UsageError(f"CLAPCLI_HUB_TIMEOUT={found.value!r}: pass a number of seconds, e.g. 10")
    return value


# endpoint -> None when it answered, else why not; one probe per endpoint and run.
_unreachable: dict[str, str | None] = {}


def hub_reachable() -> bool:
    """Whether the hub answers, asked once per run with a bounded request (docs/design.md §3).

    huggingface_hub retries a silent hub for minutes (a 60 s timeout, 5 retries, per file). When the
    probe gets no answer, the rest of the run reads only the local cache, as with HF_HUB_OFFLINE=1:
    huggingface_hub and transformers check ``constants.HF_HUB_OFFLINE`` on every call."""
    from huggingface_hub import constants

    hub_http.install(hub_timeout())  # every later request bounded too: a hub that half-answers
    if _offline_by_env() or constants.HF_HUB_OFFLINE:
        return False
    endpoint = constants.ENDPOINT  # read by huggingface_hub at import: the endpoint its own calls use
    if endpoint not in _unreachable:
        _unreachable[endpoint] = _probe(endpoint, hub_timeout())
        if _unreachable[endpoint] is not None:
            constants.HF_HUB_OFFLINE = True
    return _unreachable[endpoint] is None


def _probe(endpoint: str, timeout: float) -> str | None:
    """One HEAD request: None on any HTTP answer (even 404), else why there was none."""
    from huggingface_hub.utils import get_session  # its proxy, certificate and header settings

    try:
        get_session().head(endpoint, timeout=timeout, follow_redirects=False)
    except Exception as exc:  # noqa: BLE001 - no answer of any kind (timeout, refused, DNS, TLS) = unreachable
        cause = exc.__cause__ or exc  # hub_http turns httpx's error into huggingface_hub's offline one
        if "timeout" in type(cause).__name__.lower():
            return f"{endpoint} did not answer within {timeout:g} s"
        return f"{endpoint} could not be reached: {type(cause).__name__}"
    return None


def _unreachable_reason() -> str:
    from huggingface_hub import constants

    reason = _unreachable.get(constants.ENDPOINT)
    stalled = hub_http.stall()
    if reason is None and stalled is not None:
        return stalled.describe()
    if _offline_by_env() or (reason is None and constants.HF_HUB_OFFLINE):
        return "offline mode: HF_HUB_OFFLINE is set"
    if reason is None:  # the probe got an answer, the file request did not get a usable one
        return f"{constants.ENDPOINT} answered, but not with this file; check HF_ENDPOINT, proxies and the network"
    return reason


def keep_download_bars() -> None:
    """huggingface_hub's download bars back on after transformers' ``disable_progress_bar()`` (which turns
    off the hub's too): a first run fetching a 600 MB checkpoint, or AudioLDM 2's gigabytes, would
    otherwise be minutes of blank terminal. They draw only on a terminal (tqdm's own check); the CLI
    sets HF_HUB_DISABLE_PROGRESS_BARS off a terminal and with --quiet, which this respects."""
    from huggingface_hub import constants
    from huggingface_hub.utils import enable_progress_bars

    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS", "").strip().lower() in {"1", "true", "yes", "on"}:
        return
    if constants.HF_HUB_DISABLE_PROGRESS_BARS is True:  # read when huggingface_hub was imported
        return
    enable_progress_bars()


def _warn_if_ambiguous(alias: str, target: str) -> None:
    import warnings

    from clapcli.errors import ClapcliWarning
    from clapcli.models.registry import AMBIGUOUS_ALIASES

    if alias in AMBIGUOUS_ALIASES:
        warnings.warn(f"alias '{alias}' means {target} here but another model elsewhere; say "
                      f"{AMBIGUOUS_ALIASES[alias]} (the bare '{alias}' goes in the next release)",
                      ClapcliWarning, stacklevel=3)


def offline_by_env() -> bool:
    """HF_HUB_OFFLINE=1 (or true/yes/on) in the environment."""
    return _offline_by_env()


def unreachable_reason() -> str:
    """Why the hub is not used in this run (offline mode, no answer to the probe)."""
    return _unreachable_reason()


def _not_cached(ref: ModelRef) -> NotCached:
    return NotCached(
        f"model '{ref.location}' is not in the local cache and the hub cannot be reached "
        f"({_unreachable_reason()}); fetch it ahead of time with 'clap download {ref.location}' where the hub is "
        "reachable, or pass a local directory with --model (HF_HUB_OFFLINE=1 skips the hub check)"
    )


def stall_error(ref: ModelRef) -> ModelLoadError | None:
    """The one line for a run whose hub stalled (``hub_http``), whatever the library raised after it."""
    stalled = hub_http.stall()
    if stalled is None:
        return None
    if not stalled.partial:
        return _not_cached(ref)
    return ModelLoadError(
        f"model '{ref.location}' could not be downloaded: {stalled.describe()}; run the same command again to "
        f"resume, or fetch it ahead of time with 'clap download {ref.location}' (HF_HUB_OFFLINE=1 then works "
        "from the cached copy)"
    )


def fetch_file(ref: ModelRef, filename: str, required: bool = True) -> Path | None:
    """Path of ``filename`` in the checkpoint, downloading from the hub when allowed."""
    if ref.is_local:
        path = Path(ref.location) / filename
        if path.is_file():
            return path
        if required:
            raise FileMissing(f"model directory '{ref.location}' has no {filename}; is it a complete checkpoint?")
        return None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    cache_only = not hub_reachable()
    try:
        return Path(hf_hub_download(ref.location, filename, etag_timeout=hub_timeout(), local_files_only=cache_only))
    except (LocalEntryNotFoundError, hub_http.HubStalled):  # Local...: an EntryNotFoundError, must come first
        raise stall_error(ref) or _not_cached(ref) from None
    except EntryNotFoundError:
        if required:
            raise FileMissing(f"model '{ref.location}' has no {filename} on the hub") from None
        return None
    except GatedRepoError:
        raise gated_error(ref.location) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"model '{ref.location}' was not found on the hub; check the id or run 'clap models'"
        ) from None
    except OSError as exc:  # network failures surface as requests/httpx OSErrors
        raise stall_error(ref) or ModelLoadError(
            f"model '{ref.location}' could not be downloaded ({type(exc).__name__}); "
            "check the network or pass a local directory with --model"
        ) from None


def gated_error(repo: str) -> ModelLoadError:
    """The one line for a gated model the hub refused (no token, or its terms not accepted)."""
    from clapcli.models.registry import GATED_LICENCES

    page = GATED_LICENCES.get(repo, f"https://huggingface.co/{repo}")
    return ModelLoadError(
        f"model '{repo}' is gated: accept its licence at {page}, then give a token with HF_TOKEN=... or "
        "'hf auth login'"
    )


def read_config(ref: ModelRef) -> dict:
    """The parsed ``config.json`` or, for pipelines, ``model_index.json``."""
    not_cached = False
    for filename in ("config.json", "model_index.json"):
        try:
            path = fetch_file(ref, filename, required=True)
        except FileMissing:
            continue
        except NotCached:
            not_cached = True
            continue
        try:
            config = json.loads(path.read_text(encoding="utf-8"))  # type: ignore[union-attr]
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"model '{ref.location}': {filename} is unreadable ({exc}); re-download it") from None
        if not isinstance(config, dict):
            raise ModelLoadError(
                f"model '{ref.location}': {filename} holds a JSON {_json_kind(config)}, not an object of "
                "settings; fix or re-download it"
            )
        return config
    if not_cached:
        raise _not_cached(ref)
    where = "directory" if ref.is_local else "model"
    raise ModelLoadError(
        f"{where} '{ref.location}' has no config.json or model_index.json; is it a Hugging Face checkpoint?"
    )


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def check_tokenizer(tokenizer, ref: ModelRef) -> None:
    """Refuse the silent placeholder tokenizer transformers returns when files are missing."""
    size = len(tokenizer)
    if size < MIN_TOKENIZER_SIZE:
        raise stall_error(ref) or ModelLoadError(
            f"model '{ref.location}': its tokenizer has only {size} tokens (files missing or not cached); "
            "pass a complete local directory with --model"
        )


def load_pretrained(ref: ModelRef, preprocessor_class: Any, model_class: Any, device: Any, dtype: Any) -> tuple:
    """(tokenizer, preprocessor, network in eval mode on ``device``) for a standard checkpoint directory."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(ref.location)
        preprocessor = preprocessor_class.from_pretrained(ref.location)
        network = model_class.from_pretrained(ref.location, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise wrap_load_error(ref, exc) from None
    check_tokenizer(tokenizer, ref)
    network.to(device).eval()
    return tokenizer, preprocessor, network


def wrap_load_error(ref: ModelRef, exc: BaseException) -> ModelLoadError:
    """One line for an exception raised inside ``from_pretrained``."""
    stalled = stall_error(ref)
    if stalled is not None:
        return stalled
    report = _loading_report(exc)
    if report is not None:
        return ModelLoadError(f"model '{ref.location}' does not match its config.json: {report}")
    return ModelLoadError(f"model '{ref.location}' could not be loaded: {first_line(exc, 200)}")


def _loading_report(exc: BaseException) -> str | None:
    """The gist of transformers' load report, for its "look at the above report" errors.

    transformers logs that report as a warning (silenced here, as it would drown our one line) and
    then raises without it; the details are still in ``loading_info`` in the raising frames."""
    if "above report" not in str(exc):
        return None
    info = None
    traceback = exc.__traceback__
    while traceback is not None:
        info = traceback.tb_frame.f_locals.get("loading_info", info)
        traceback = traceback.tb_next
    # a weight matrix first: its two dimensions show more of the mismatch than a bias
    mismatched = sorted(getattr(info, "mismatched_keys", None) or (), key=lambda m: (not m[0].endswith("weight"), m[0]))
    if mismatched:
        key, in_checkpoint, in_config = mismatched[0]
        return (
            f"{len(mismatched)} weight(s) have other shapes, e.g. '{key}' is {tuple(in_checkpoint)} in the "
            f"checkpoint but {tuple(in_config)} per config.json; fix config.json or re-download the model"
        )
    errors = getattr(info, "conversion_errors", None) or {}
    if errors:
        key, detail = sorted(errors.items())[0]
        first = first_line(detail) if str(detail).strip() else "conversion failed"
        return f"{len(errors)} weight(s) could not be converted, e.g. '{key}' ({first}); re-download the model"
    return "its weights do not fit the architecture config.json describes; fix config.json or re-download the model"


def cached_revision(model_id: str) -> str | None:
    """The hub commit of the cached snapshot a hub model came from (None for a local directory)."""
    if Path(model_id).exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # noqa: BLE001 - a revision is a courtesy, never a reason to fail
        return None
    return Path(cached).parent.name if isinstance(cached, str) else None
