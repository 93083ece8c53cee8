#!/usr/bin/env bash
# Runs each fuzz target (tests/fuzz) for SECONDS (default 60), longer than
# the test suite does, on a copy of its seed corpus; builds them first in
# ./build-fuzz (clang, libFuzzer, AddressSanitizer and UBSan). Prints the
# inputs each one ran; a crashing input is kept in build-fuzz/fuzz-artifacts.
#
#   scripts/fuzz.sh [SECONDS]
set -uo pipefail

cd "$(dirname "$0")/.."

seconds=${1:-60}
CC=clang BUILD_DIR=build-fuzz scripts/setup.sh --tests -Dfuzz=true \
  -Db_sanitize=address,undefined -Db_lundef=false || exit 1

export FUZZ_ARTIFACTS=$PWD/build-fuzz/fuzz-artifacts
mkdir -p "$FUZZ_ARTIFACTS"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

status=0
for fuzzer in build-fuzz/tests/fuzz/fuzz-*; do
  [ -f "$fuzzer" ] && [ -x "$fuzzer" ] || continue
  name=${fuzzer##*/fuzz-}
  if tests/fuzz/run-fuzzer.sh "$fuzzer" "tests/fuzz/corpus/$name" \
       -max_total_time="$seconds" >"$log" 2>&1; then
    echo "$name: OK, $(grep -o '^Done [0-9]* runs in [0-9]* second(s)' "$log");" \
      "$(grep -o 'DONE *cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9a-zA-Z]*' "$log" |
         sed 's/DONE *//')"
  else
    echo "$name: FAILED"
    grep -E '^(==[0-9]+==|SUMMARY|artifact_prefix)|CRITICAL|runtime error' "$log"
    status=1
  fi
done
exit $status
