"""Caption datasets for ``clap eval retrieve``: Clotho (``file_name,caption_1..5``), AudioCaps (one row per
caption) and a generic ``path,caption`` CSV, read with the same table reader and file:line errors as
the classification layouts (``datasets.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clapcli.core.eval.datasets import (
    RETRIEVE_LAYOUTS,
    DatasetError,
    Repeats,
    Table,
    file_listed,
    media_under,
    read_table,
    table_cell,
)

__all__ = ["RETRIEVE_LAYOUTS", "RetrievalDataset", "read_retrieval"]


@dataclass
class RetrievalDataset:
    layout: str
    metadata: Path
    clips: list[Path]
    captions: list[str]
    caption_clip: list[int]  # caption j describes clips[caption_clip[j]]
    skipped: int = 0


def read_retrieval(path: str | Path, audio_dir: str | Path | None = None, layout: str = "auto",
                   path_column: str | None = None, caption_column: str | None = None,
                   skip_missing: bool = False) -> RetrievalDataset:
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory; give the captions CSV (and the audio folder with --audio)")
    table = read_table(path)
    if layout == "auto":
        if "file_name" in table.header and any(h.startswith("caption_") for h in table.header):
            layout = "clotho"
        elif {"youtube_id", "caption"} <= set(table.header):
            layout = "audiocaps"
        else:
            layout = "csv"
    audio = Path(audio_dir) if audio_dir is not None else path.parent
    if layout == "clotho":
        return _clotho(table, audio, skip_missing)
    if layout == "audiocaps":
        return _audiocaps(table, audio, skip_missing)
    if layout == "csv":
        file_col = table.column(path_column, ("path", "file_name", "filename", "file"), "path")
        caption_col = table.column(caption_column, ("caption", "text"), "caption")
        rows = [(number, table_cell(table, number, row, file_col), [table_cell(table, number, row, caption_col)])
                for number, row in table.rows]
        return _grouped(table, "csv", rows, lambda name: audio / name, skip_missing)
    raise DatasetError(f"unknown layout '{layout}'; choose one of {', '.join(RETRIEVE_LAYOUTS)}")


def _clotho(table: Table, audio: Path, skip_missing: bool) -> RetrievalDataset:
    table.column("file_name", (), "path")
    caption_cols = sorted((h for h in table.header if h.startswith("caption_")), key=lambda h: (len(h), h))
    if not caption_cols:
        raise DatasetError(f"{table.path}:1: no caption_1..caption_5 columns")
    rows = [(number, table_cell(table, number, row, "file_name"),
             [table_cell(table, number, row, c) for c in caption_cols]) for number, row in table.rows]
    return _grouped(table, "clotho", rows, lambda name: audio / name, skip_missing)


def _audiocaps(table: Table, audio: Path, skip_missing: bool) -> RetrievalDataset:
    """Files are found by stem in ``audio`` (recursively): ``<youtube_id>``, ``Y<youtube_id>``,
    ``<youtube_id>_<start_time>`` or ``<audiocap_id>``, whatever the extension."""
    by_stem: dict[str, Path] = {}
    if audio.is_dir():
        for file in sorted(media_under(audio)):
            by_stem.setdefault(file.stem, file)
    rows = []
    for number, row in table.rows:
        youtube = table_cell(table, number, row, "youtube_id")
        start = row.get("start_time", "")
        candidates = [youtube, f"Y{youtube}", f"{youtube}_{start}", f"Y{youtube}_{start}", row.get("audiocap_id", "")]
        found = next((by_stem[c] for c in candidates if c and c in by_stem), None)
        key = str(found) if found is not None else f"{youtube} (looked in {audio})"
        rows.append((number, key, [table_cell(table, number, row, "caption")]))
    return _grouped(table, "audiocaps", rows, Path, skip_missing)


def _grouped(table: Table, layout: str, rows: list[tuple[int, str, list[str]]], resolve,
             skip_missing: bool) -> RetrievalDataset:
    """Captions grouped by clip, clips in order of first appearance."""
    clip_index: dict[str, int] = {}
    clips: list[Path] = []
    captions: list[str] = []
    caption_clip: list[int] = []
    skipped = 0
    repeats = Repeats(table)
    for number, name, texts in rows:
        texts = [text for text in texts if not repeats.repeated(number, (name, text))]
        if not texts:
            continue
        if name not in clip_index:
            file = resolve(name)
            if not file_listed(file, table, number, skip_missing):
                skipped += 1
                continue
            clip_index[name] = len(clips)
            clips.append(file)
        captions.extend(texts)
        caption_clip.extend([clip_index[name]] * len(texts))
    repeats.warn("duplicate caption")
    if len(clips) < 2:
        raise DatasetError(f"{table.path}: {len(clips)} clip(s) with audio found; retrieval needs at least two")
    return RetrievalDataset(layout, table.path, clips, captions, caption_clip, skipped)
