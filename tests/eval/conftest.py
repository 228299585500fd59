"""Synthesized datasets in each layout ``clap eval`` reads, small enough for the tiny checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # this folder's helper modules, imported by name

from eval_data import ESC_CLASSES, SECONDS, US8K_CLASSES, write_clip, write_csv  # noqa: E402,F401
from tiny_models import build_tiny_clap  # noqa: E402


@pytest.fixture(scope="session")
def esc50_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "ESC-50-master"
    rows = []
    for target, category in enumerate(ESC_CLASSES):
        for fold in (1, 2):
            for take in "AB":
                name = f"{fold}-{100 + target}-{take}-{target}.wav"
                write_clip(root / "audio" / name, target, 100 * fold + 10 * target + "AB".index(take))
                rows.append([name, fold, target, category, "False", 100 + target, take])
    write_csv(root / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10", "src_file", "take"],
              rows)
    return root




@pytest.fixture(scope="session")
def us8k_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "UrbanSound8K"
    rows = []
    for class_id, name in enumerate(US8K_CLASSES):
        for fold in (1, 2, 3):
            file = f"{1000 + class_id}-{fold}-0-0.wav"
            write_clip(root / "audio" / f"fold{fold}" / file, class_id, fold)
            rows.append([file, 1000 + class_id, 0.0, SECONDS, 1, fold, class_id, name])
    write_csv(root / "metadata" / "UrbanSound8K.csv",
              ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"], rows)
    return root


@pytest.fixture(scope="session")
def gtzan_dir(tmp_path_factory) -> Path:
    from clapcli.core.eval.datasets import GTZAN_GENRES

    root = tmp_path_factory.mktemp("eval") / "gtzan"
    for index, genre in enumerate(GTZAN_GENRES):
        write_clip(root / "genres_original" / genre / f"{genre}.00000.wav", index, index)
    return root


@pytest.fixture(scope="session")
def folders_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "my_sounds"
    for index, name in enumerate(["rain", "speech", "tone_high"]):
        for take in range(2):
            write_clip(root / name / f"{take}.wav", index, 10 * index + take)
        (root / name / "notes.txt").write_text("not audio")
    return root


@pytest.fixture(scope="session")
def labels_csv(folders_dir: Path) -> Path:
    rows = [[f"{name}/{take}.wav", name, take + 1] for name in ["rain", "speech", "tone_high"] for take in range(2)]
    return write_csv(folders_dir / "labels.csv", ["path", "label", "fold"], rows)


@pytest.fixture(scope="session")
def clotho_csv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "clotho"
    rows = []
    for index in range(6):
        name = f"clip {index}.wav"
        write_clip(root / "evaluation" / name, index, index)
        rows.append([name, *[f"caption {c} of a sound number {index}" for c in range(1, 6)]])
    return write_csv(root / "clotho_captions_evaluation.csv", ["file_name", *[f"caption_{c}" for c in range(1, 6)]],
                     rows)


@pytest.fixture(scope="session")
def audiocaps_csv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "audiocaps"
    rows = []
    for index in range(5):
        youtube = f"vid{index:03d}xyz"
        write_clip(root / "test" / f"Y{youtube}.wav", index, 50 + index)
        for c in range(index % 3 + 1):  # 1 to 3 captions per clip
            rows.append([100 * index + c, youtube, 30, f"sound {index} described {c} times"])
    return write_csv(root / "test.csv", ["audiocap_id", "youtube_id", "start_time", "caption"], rows)


@pytest.fixture(scope="session")
def tiny_clap_b(tmp_path_factory) -> Path:
    """A second tiny checkpoint (other weights), for the one-row-per-model tests."""
    return build_tiny_clap(tmp_path_factory.mktemp("models") / "tiny-clap-b", seed=1)
