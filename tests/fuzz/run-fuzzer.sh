#!/bin/sh
# Runs one libFuzzer target on a copy of its seed corpus, so that what it
# finds never lands in the source tree. A GLib critical warning is a
# finding, as is any report of AddressSanitizer or UBSan. Used by meson
# test (suite 'fuzz') and scripts/fuzz.sh.
#
#   run-fuzzer.sh FUZZER CORPUS_DIR [LIBFUZZER OPTIONS...]
set -eu

fuzzer=$1
corpus=$2
shift 2

export G_DEBUG=fatal-criticals
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS="print_suppressions=0:suppressions=$(dirname "$0")/../lsan.supp"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$corpus"/* "$work/corpus/"
# libFuzzer's own failure status, 77, would read as "skipped" to meson
# test. A crashing input is kept where the log says (-artifact_prefix).
"$fuzzer" -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="${FUZZ_ARTIFACTS:-$PWD}/$(basename "$fuzzer")-" \
  "$@" "$work/corpus"
