#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The viewer in headless Chromium (a benchmark, not a test; nothing runs it
# but a person):
#
#   bench/browser.sh [BUILD_DIR] [--json FILE]
#   HEARTH_BENCH_BROWSER=firefox bench/browser.sh ...
#
# One fake camera (640x360, 30 fps, a keyframe a second) → hearthd → one
# headless browser, Chromium unless HEARTH_BENCH_BROWSER says firefox, with a
# paired display's identity (the harness of tests/e2e/browser.sh). Measures:
#   - first frame: from navigation start (opening `/#camera=ID` in a fresh
#     page) to the first decoded frame presented (requestVideoFrameCallback,
#     the page's performance mark), over HEARTH_BENCH_OPENS opens (20);
#   - live edge: after HEARTH_BENCH_WATCH_SECONDS (30) of playing, how far
#     the video runs behind what it has received (buffered.end - currentTime),
#     sampled 20 times over 2 s, and how often playback stalled meanwhile;
#   - the gateway's part of stamp-to-screen: from the fake camera's capture
#     stamp to the bytes at a client (curl | fmp4-stamps) reading live.mp4
#     beside the browser. The page cannot read the stamps of the frames it
#     shows, so stamp-to-screen is that plus the two rows above it, roughly.
# Prints a table and writes JSON. Everything runs on loopback.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
[ "${1:-}" = "" ] || shift
OUT_JSON=$BUILD/bench/browser.json
if [ "${1:-}" = --json ]; then OUT_JSON=$(realpath -m "$2"); fi
OPENS=${HEARTH_BENCH_OPENS:-20}
WATCH_SECONDS=${HEARTH_BENCH_WATCH_SECONDS:-30}
KIND=${HEARTH_BENCH_BROWSER:-chromium}

# The end-to-end tests' helpers: gateway, camera, pairing, browser.
export HEARTH_BUILD_DIR=$BUILD HEARTH_SOURCE_DIR=$SRC HEARTH_PLUGIN_DIR=$BUILD/plugins
mkdir -p "$BUILD/tests"
source "$SRC/tests/e2e/lib.sh"
source "$SRC/tests/e2e/browser.sh"

start_camera cam --pattern ball --fps 30 --key-int 30
start_gateway
ctl household add Home >/dev/null
camera=$(ctl camera add --household Home --name Bench "$CAM_URL_cam")
pair_display bench Home
wait_for 30 "the camera to stream" sh -c "'$BIN_CTL' --state-dir '$T/state' camera list | grep -q streaming"
browser_start b bench "$KIND"

first_frames=()
for i in $(seq 1 "$OPENS"); do
  browser b open about:blank >/dev/null
  browser b open "$(url "/#camera=$camera")" >/dev/null
  ms=$(browser_wait b 20 "a first frame" \
    'performance.getEntriesByName("hearth-first-frame")[0]?.startTime')
  first_frames+=("$ms")
  log "open $i: first frame after $ms ms"
done

# Watch, counting stalls (the player waiting for data), then sample how far behind the received data the video plays.
browser b eval 'window.hearthStalls = 0; document.querySelector("video").addEventListener("waiting", () => window.hearthStalls++); true' >/dev/null
browser_wait b $((WATCH_SECONDS + 30)) "$WATCH_SECONDS s of playing" \
  "document.querySelector(\"video\").currentTime > 0 && performance.now() - performance.getEntriesByName(\"hearth-first-frame\")[0].startTime > $WATCH_SECONDS * 1000" >/dev/null
lags=$(browser b eval 'new Promise((done) => { const v = document.querySelector("video"); const out = [];
  const id = setInterval(() => { const b = v.buffered;
    if (b.length) out.push(1000 * (b.end(b.length - 1) - v.currentTime));
    if (out.length === 20) { clearInterval(id); done(out); } }, 100); })')
# The gateway's part of stamp-to-screen: capture stamp → bytes at a client
# reading live.mp4 at the same time (the last 60 of 120 frames: the first
# ones come from the GOP cache).
{ curl_as bench -N --max-time 20 "$(url "/v1/cameras/$camera/live.mp4")" 2>/dev/null || true; } |
  "$HEARTH_BUILD_DIR/tests/tools/fmp4-stamps" --frames 120 >"$T/stamps.txt"
receipt=$(sed -n 's/^frame .* lag-ms=\([0-9.-]*\) .*/\1/p' "$T/stamps.txt" | tail -n 60 | tr '\n' ' ')
dropped=$(browser b eval '(() => { const q = document.querySelector("video").getVideoPlaybackQuality();
  return [q.totalVideoFrames, q.droppedVideoFrames, window.hearthStalls]; })()')

mkdir -p "$(dirname "$OUT_JSON")"
if [ "$KIND" = firefox ]; then
  version=$(firefox-esr --version 2>/dev/null)
else
  version=$(chromium --version 2>/dev/null)
fi
python3 - "$OUT_JSON" "$WATCH_SECONDS" "$lags" "$dropped" "$version" "$receipt" \
  "${first_frames[@]}" <<'EOF'
import json, statistics, sys
out, watch, lags, dropped, version, receipt = sys.argv[1:7]
first = sorted(float(x) for x in sys.argv[7:])
receipt = [float(x) for x in receipt.split()]
lags = json.loads(lags)
total, dropped, stalls = json.loads(dropped)

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]

result = {
    "browser": version.strip(),
    "first_frame_ms": {"n": len(first), "p50": pct(first, 50), "p99": pct(first, 99),
                       "min": first[0], "max": first[-1], "all": first},
    "live_edge_ms": {"after_s": int(watch), "n": len(lags), "p50": pct(lags, 50),
                     "max": max(lags), "all": lags},
    "stamp_to_client_ms": {"n": len(receipt), "p50": pct(receipt, 50), "max": max(receipt),
                           "all": receipt},
    "frames": {"total": total, "dropped": dropped, "stalls_while_watching": stalls},
}
with open(out, "w") as f:
    json.dump(result, f, indent=2)
f, l = result["first_frame_ms"], result["live_edge_ms"]
print(f"{'measure':44} {'p50':>8} {'p99/max':>8} {'target':>8}")
print(f"{'first frame after open, ms (' + str(f['n']) + ' opens)':44} {f['p50']:8.0f} {f['p99']:8.0f} {'<= 300':>8}")
print(f"{'behind buffered.end after ' + watch + ' s, ms':44} {l['p50']:8.0f} {l['max']:8.0f} {'<= 300':>8}")
r = result["stamp_to_client_ms"]
print(f"{'capture stamp -> bytes at a client, ms':44} {r['p50']:8.0f} {r['max']:8.0f}")
print(f"stamp-to-screen is about the sum of the last two rows plus decoding")
print(f"frames decoded {total}, dropped {dropped}; stalls while watching {stalls}")
print(f"{version.strip()}; JSON: {out}")
EOF
stop_gateway
