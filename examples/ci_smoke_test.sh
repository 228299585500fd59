#!/usr/bin/env bash
# A CI smoke test: fail the job unless the model still hears what it should.
#   usage: ci_smoke_test.sh AUDIO_FILE EXPECTED_LABEL [MIN_SCORE]
# Exit codes from clap: 0 ok, 4 expectation not met (top label or score), 3 the file failed to decode.
set -uo pipefail
CLAP=${CLAP:-clap}
audio=${1:?usage: ci_smoke_test.sh AUDIO_FILE EXPECTED_LABEL [MIN_SCORE]}
expected=${2:?usage: ci_smoke_test.sh AUDIO_FILE EXPECTED_LABEL [MIN_SCORE]}
min_score=${3:-0}

$CLAP classify "$audio" --labels "${LABELS:-dog barking,rain,speech,music}" \
  --expect "$expected" --min-score "$min_score" --format jsonl --quiet
status=$?
case $status in
  0) echo "smoke test passed: $audio is '$expected'" >&2 ;;
  4) echo "smoke test FAILED: $audio is not '$expected' (see above)" >&2 ;;
  *) echo "smoke test could not run (exit $status)" >&2 ;;
esac
exit $status
