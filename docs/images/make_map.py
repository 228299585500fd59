"""Regenerate docs/images/map.png, the README's picture of ``clap map``, through the real command.

A synthetic library (no audio: 600 vectors around six kinds of sound, in three folders, with tag scores) is
written to a temporary library and drawn with ``clap map --method umap --seed 0`` (run in this process).
The cluster labels need the library's model to embed the label prompts; offline there is no real one, so
the model is the tests' deterministic stand-in (``tests/library_tools/map_model.py``: a text's embedding is a
fixed vector drawn from its bytes) and each kind's vectors lie around the embedding of its tag's prompt. The
picture shows what the command draws today, not what a real model makes of real sounds.
Run: python docs/images/make_map.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "library_tools"))

from map_model import HashTextModel, text_vector  # noqa: E402

from clapcli.store import ItemRow, open_store  # noqa: E402
from clapcli.store.tags import TagSet, start_tag_set, write_scores  # noqa: E402

KINDS = ["kick", "snare", "hi-hat", "pad", "bass", "vocal"]
FOLDERS = {"kick": "drums", "snare": "drums", "hi-hat": "drums", "pad": "synths", "bass": "synths",
           "vocal": "vocals"}
RELATED = ["bass", "hi-hat", "snare", "vocal", "kick", "pad"]  # each kind's neighbour, in KINDS' order
TEMPLATE = "This is a sound of {}."
DIM = 64


def write_library(db: Path) -> None:
    rng = np.random.default_rng(0)
    prompts = np.stack([text_vector(TEMPLATE.replace("{}", kind), DIM) for kind in KINDS])
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    # kinds that sound alike lie closer (kick and bass, snare and hi-hat, pad and vocal), each nearer its own
    centres = 0.94 * prompts + 0.35 * prompts[[KINDS.index(k) for k in RELATED]]
    with open_store(db) as store:
        collection = store.collection("default", "synthetic", DIM)
        kinds = [i % len(KINDS) for i in range(600)]
        collection.upsert([ItemRow(f"/samples/{FOLDERS[KINDS[k]]}/{KINDS[k]}-{i:03d}.wav", "h",
                                   centres[k] + 0.11 * rng.standard_normal(DIM), 1.0)
                           for i, k in enumerate(kinds)])
        start_tag_set(collection, TagSet(KINDS, TEMPLATE, "synthetic"))
        ids = [r[0] for r in store.connection.execute("SELECT id FROM items ORDER BY id")]
        scores = rng.dirichlet(np.ones(len(KINDS)) * 0.3, size=len(ids))
        scores[np.arange(len(ids)), kinds] += 1.0  # mostly the right tag on top
        write_scores(collection, ids, KINDS, scores / scores.sum(axis=1, keepdims=True))


def main() -> None:
    from typer.testing import CliRunner

    from clapcli.cli import app
    from clapcli.console.common import ModelOptions

    ModelOptions.load = lambda self, *_args: HashTextModel(self.model, DIM)  # the stand-in (see above)
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "lib.db"
        write_library(db)
        result = CliRunner().invoke(app, ["map", "--db", str(db), "--method", "umap", "--seed", "0", "-o",
                                          str(ROOT / "docs" / "images" / "map.png"), "--overwrite"])
        print(result.stderr, end="")
        if result.exit_code:
            raise SystemExit(result.exit_code)


if __name__ == "__main__":
    main()
