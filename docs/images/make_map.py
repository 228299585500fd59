"""Regenerate docs/images/map.png, the README's picture of ``clap map``, through the real command.

A synthetic library (no audio, no model: 600 vectors around six kinds of sound, in three folders, with
tag scores) is written to a temporary library and drawn with ``clap map --method umap --seed 0``, so the
picture shows what the command draws today. Run: python docs/images/make_map.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from clapcli.store import ItemRow, open_store  # noqa: E402
from clapcli.store.tags import TagSet, start_tag_set, write_scores  # noqa: E402

KINDS = ["kick", "snare", "hi-hat", "pad", "bass", "vocal"]
FOLDERS = {"kick": "drums", "snare": "drums", "hi-hat": "drums", "pad": "synths", "bass": "synths",
           "vocal": "vocals"}


def main() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((len(KINDS), 64))
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "lib.db"
        with open_store(db) as store:
            collection = store.collection("default", "synthetic", 64)
            kinds = [i % len(KINDS) for i in range(600)]
            collection.upsert([ItemRow(f"/samples/{FOLDERS[KINDS[k]]}/{KINDS[k]}-{i:03d}.wav", "h",
                                       centres[k] + 0.6 * rng.standard_normal(64), 1.0)
                               for i, k in enumerate(kinds)])
            start_tag_set(collection, TagSet(KINDS, "This is a sound of {}.", "synthetic"))
            ids = [r[0] for r in store.connection.execute("SELECT id FROM items ORDER BY id")]
            scores = rng.dirichlet(np.ones(len(KINDS)) * 0.3, size=len(ids))
            scores[np.arange(len(ids)), kinds] += 1.0  # mostly the right tag on top
            write_scores(collection, ids, KINDS, scores / scores.sum(axis=1, keepdims=True))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "clapcli", "map", "--db", str(db), "--method", "umap", "--seed", "0",
                        "-o", str(ROOT / "docs" / "images" / "map.png"), "--overwrite"], check=True, env=env)


if __name__ == "__main__":
    main()
