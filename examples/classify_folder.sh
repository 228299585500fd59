#!/usr/bin/env bash
# Classify every sound in a folder against a label set and write one CSV row per (file, rank).
#   usage: classify_folder.sh SOUNDS_DIR [OUT.csv]
# Model: $CLAPCLI_MODEL (default laion/clap-htsat-unfused). Exit 3 means some files failed but the
# rest are in the CSV; the failed ones are named on stderr.
set -euo pipefail
CLAP=${CLAP:-clap}
sounds=${1:?usage: classify_folder.sh SOUNDS_DIR [OUT.csv]}
out=${2:-predictions.csv}

$CLAP classify "$sounds" \
  --labels "dog barking,rain,speech,music,siren,vacuum cleaner" \
  --top-k 3 --output "$out" --overwrite --quiet || status=$?
status=${status:-0}
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"

echo "top label per file:" >&2
# rank 1 rows only: path,label,score
awk -F, 'NR > 1 && $2 == 1 { print $1 "," $3 "," $4 }' "$out"
exit "$status"
