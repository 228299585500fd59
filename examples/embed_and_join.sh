#!/usr/bin/env bash
# Embed a folder to .npy and join the rows back to file names with the .rows.csv written beside it.
#   usage: embed_and_join.sh SOUNDS_DIR [OUT.npy]
set -euo pipefail
CLAP=${CLAP:-clap}
PYTHON=${PYTHON:-python}
sounds=${1:?usage: embed_and_join.sh SOUNDS_DIR [OUT.npy]}
out=${2:-sounds.npy}

$CLAP embed "$sounds" --output "$out" --overwrite --quiet

# Row i of the matrix is the file on row i of OUT.npy.rows.csv.
"$PYTHON" - "$out" <<'PY'
import csv, sys
import numpy as np

matrix = np.load(sys.argv[1])
rows = list(csv.DictReader(open(sys.argv[1] + ".rows.csv")))
assert len(rows) == len(matrix)
for row, vector in zip(rows, matrix):
    print(f"{row['path']}\t{row['duration']}\tnorm={np.linalg.norm(vector):.3f}")
PY
