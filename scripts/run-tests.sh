#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the whole test suite:
# once as built, once with AddressSanitizer and UBSan; then each fuzz target
# (tests/fuzz, built with clang's libFuzzer) for a fixed number of inputs.
# Ends with one line "N passed, N failed" for all three runs together
# (", N skipped" when a test was skipped, e.g. the package test outside CI).
set -uo pipefail

cd "$(dirname "$0")/.."

scripts/setup.sh --tests || exit 1
BUILD_DIR=build-asan scripts/setup.sh --tests -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbuildtype=debug || exit 1
CC=clang BUILD_DIR=build-fuzz scripts/setup.sh --tests -Dfuzz=true \
  -Db_sanitize=address,undefined -Db_lundef=false || exit 1

status=0
for dir in build build-asan build-fuzz; do
  echo "=== meson test -C $dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 ||
    status=1
done

python3 - build build-asan build-fuzz <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    try:
        with open(f"{d}/meson-logs/testlog.json") as f:
            for line in f:
                r = json.loads(line).get("result")
                if r == "OK":
                    passed += 1
                elif r in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
                    failed += 1
                elif r == "SKIP":
                    skipped += 1
    except FileNotFoundError:
        failed += 1
print(f"{passed} passed, {failed} failed" +
      (f", {skipped} skipped" if skipped else ""))
PY
exit $status
