#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the gateway with the
# embedded defaults: state in ./state, a demo test-pattern camera, and the
# pairing QR code for the household "Home" printed below.
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/setup.sh
exec ./build/gateway/hearthd --state-dir ./state --demo "$@"
