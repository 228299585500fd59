"""``clap train`` as Python calls: train a probe from labelled examples, load one from disk. The probe goes
to ``classify``, ``iter_classify``, ``detect`` and ``iter_detect`` as ``probe=`` (docs/probes.md)."""

from __future__ import annotations

from pathlib import Path

from clapcli.core.probe.model import Probe
from clapcli.core.probe.store import load_probe
from clapcli.errors import InputError
from clapcli.models.base import EmbeddingModel

__all__ = ["Probe", "load_probe", "train_probe"]


def train_probe(model: EmbeddingModel, dataset: str | Path, output: str | Path | None = None, *,
                multi_label: bool = False, layout: str = "auto", template: str | None = None,
                db: str | Path | None = None, batch_size: int | None = None, overwrite: bool = False,
                failures: str = "raise") -> Probe:
    """``clap train``: a probe from class folders or a CSV/TSV of path and label(s) (``multi_label``: labels
    separated by ';'), also the ESC-50/UrbanSound8K/GTZAN layouts; written to ``output`` when given.
    ``failures="raise"``: a file that fails to decode raises ``InputError`` before anything is fitted;
    ``"keep"``: it is left out and the others train (the manifest counts the files used)."""
    from clapcli.api._media import check_failures
    from clapcli.core.probe.data import read_training_set
    from clapcli.core.probe.store import check_probe_output, save_probe
    from clapcli.core.probe.train import embed_training_set, fit_embedded

    check_failures(failures)
    data = read_training_set(dataset, multi_label, layout)
    if output is not None:
        check_probe_output(Path(output), overwrite)
    embedded = embed_training_set(model, data, batch_size, db=db)
    if embedded.failed and failures == "raise":
        first = embedded.failed[0]
        raise InputError(f"{first.source}: {first.reason}")
    probe = fit_embedded(model, embedded, template).probe
    if output is not None:
        save_probe(probe, Path(output), overwrite)
    return probe
