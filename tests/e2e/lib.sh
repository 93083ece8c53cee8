# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the end-to-end tests: real hearthd, real fake cameras
# (RTSP), real TLS, real SQLite, real clients (hearth-display, curl, ffprobe).
# Everything binds to loopback; every wait has a deadline.

set -euo pipefail

: "${HEARTH_BUILD_DIR:?run through meson test}"
BIN_HEARTHD=$HEARTH_BUILD_DIR/gateway/hearthd
BIN_CTL=$HEARTH_BUILD_DIR/gateway/hearthctl
BIN_DISPLAY=$HEARTH_BUILD_DIR/display/hearth-display
BIN_CAMERA=$HEARTH_BUILD_DIR/tests/tools/fake-camera

T=$(mktemp -d "$HEARTH_BUILD_DIR/tests/e2e-$(basename "$0" .sh)-XXXXXX")
PIDS=()
GATEWAY_PID=
# Commands run at exit after PIDS are gone, last added first, each given the
# test's exit status (netns.sh deletes its namespaces here).
CLEANUP_HOOKS=()

cleanup() {
  local rc=$? i
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for ((i = ${#CLEANUP_HOOKS[@]} - 1; i >= 0; i--)); do
    ${CLEANUP_HOOKS[i]} "$rc" || true
  done
  if [ $rc -ne 0 ]; then
    echo "--- test failed; gateway log:" >&2
    tail -n 60 "$T/hearthd.log" >&2 2>/dev/null || true
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT

log() { echo "# $*"; }

# Under AddressSanitizer, leak checking needs the slow unwinder, which makes a
# TLS handshake take seconds on a loaded machine. Clients run without leak
# checking (memory errors are still caught); hearthd keeps it, and
# stop_gateway checks its exit status.
client() { ASAN_OPTIONS=detect_leaks=0 "$@"; }

# fail MESSAGE, and wait_for [--pid PID LOG] SECONDS DESCRIPTION COMMAND...
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

# json EXPR: evaluates a Python expression on the JSON on stdin, as "j".
json() {
  python3 -c 'import json,sys; j=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$1"
}

# start_camera NAME [FAKE-CAMERA ARGS...]: a fake RTSP camera; sets
# CAM_URL_<NAME>, CAM_ID_<NAME> and CAM_PID_<NAME>.
start_camera() {
  local name=$1 ready=$T/camera-$1.ready
  local id
  shift
  id=$(python3 -c 'import uuid; print(uuid.uuid4())')
  rm -f "$ready"
  # exec: $! is the camera itself, so that killing it stops the camera.
  (ASAN_OPTIONS=detect_leaks=0 exec "$BIN_CAMERA" --address 127.0.0.1 --port 0 \
    --stamp-id "$id" --ready-file "$ready" "$@" >>"$T/camera-$name.log" 2>&1) &
  PIDS+=($!)
  wait_for 20 "camera $name" test -s "$ready"
  printf -v "CAM_URL_$name" '%s' "$(cut -d' ' -f1 "$ready")"
  printf -v "CAM_ID_$name" '%s' "$id"
  printf -v "CAM_PID_$name" '%s' "$!"
}

# root_gateway_args [--config FILE] [ARGS...]: sets GATEWAY_ARGS to ARGS with
# a --config that is FILE (if given) with [discovery] enabled = false added.
# In the machine's own network namespace the gateway looks for no camera: its
# WS-Discovery would multicast on the machine's real network. The tests that
# discover run the gateway in a namespace of their own (netns.sh).
root_gateway_args() {
  local conf=$T/gateway-root.conf given=""
  GATEWAY_ARGS=()
  while [ $# -gt 0 ]; do
    case $1 in
      --config) given=$2; shift 2 ;;
      *) GATEWAY_ARGS+=("$1"); shift ;;
    esac
  done
  { [ -z "$given" ] || cat "$given"; printf '\n[discovery]\nenabled = false\n'; } >"$conf"
  GATEWAY_ARGS=(--config "$conf" "${GATEWAY_ARGS[@]}")
}

# start_gateway [--config FILE] [ARGS...]: hearthd on loopback with a private
# state dir, in this namespace (root_gateway_args). hearthd runs without
# G_DEBUG=fatal-criticals: rtspsrc itself logs a GStreamer critical on some
# reconnects and stops. Criticals of any other domain (ours, GLib's) still
# fail the test, in stop_gateway.
start_gateway() {
  root_gateway_args "$@"
  env -u G_DEBUG "$BIN_HEARTHD" --state-dir "$T/state" --listen 127.0.0.1:0 \
    --pairing-listen 127.0.0.1:0 "${GATEWAY_ARGS[@]}" >>"$T/hearthd.log" 2>&1 &
  GATEWAY_PID=$!
  PIDS+=($GATEWAY_PID)
  wait_for 20 "hearthd to answer" ctl status
  STREAM_PORT=$(ctl --json status | json 'j["stream_port"]')
  [ "$STREAM_PORT" -gt 0 ] || fail "no stream port"
}

# stop_gateway: SIGTERM, and the daemon must exit 0 (sanitizers report here).
stop_gateway() {
  kill -TERM "$GATEWAY_PID"
  local rc=0
  wait "$GATEWAY_PID" || rc=$?
  [ $rc -eq 0 ] || fail "hearthd exited with $rc on SIGTERM"
  check_gateway_log
}

# No critical in the gateway's log but GStreamer's own.
check_gateway_log() {
  local criticals
  criticals=$(grep -E -- '-CRITICAL \*\*' "$T/hearthd.log" | grep -v 'GStreamer-CRITICAL' || true)
  [ -z "$criticals" ] || fail "hearthd logged criticals: $criticals"
}

ctl() { "$BIN_CTL" --state-dir "$T/state" "$@"; }

# display NAME ARGS...: hearth-display with its own config dir.
display() {
  local name=$1
  shift
  client "$BIN_DISPLAY" --config-dir "$T/display-$name" "$@"
}

# pair_display NAME HOUSEHOLD: opens a window and pairs the display through it.
pair_display() {
  local payload
  payload=$(ctl pair --household "$2" --print-payload)
  display "$1" pair "$payload" --name "$1" >"$T/pair-$1.log" 2>&1 ||
    fail "pairing display $1: $(cat "$T/pair-$1.log")"
}

# Files of a paired display, for curl and ffprobe; the gateway's root CA,
# which signs the certificate it serves.
cert_of() { echo "$T/display-$1/display.crt"; }
key_of() { echo "$T/display-$1/display.key"; }
gateway_cert() { echo "$T/state/ca.crt"; }

# curl_as NAME ARGS...: curl with that display's certificate.
curl_as() {
  local name=$1
  shift
  curl -sS --cert "$(cert_of "$name")" --key "$(key_of "$name")" \
    --cacert "$(gateway_cert)" "$@"
}

url() { echo "https://127.0.0.1:$STREAM_PORT$1"; }

# expect_check DISPLAY CAMERA STAMP FRAMES: the reference display's check
# receives FRAMES frames of CAMERA, every one stamped STAMP, in order; its
# report stays in $T/check-CAMERA.log.
expect_check() {
  local log=$T/check-$2.log line
  display "$1" check "$2" --frames "$4" --expect-stamp "$3" --timeout 60 >"$log" ||
    fail "check of camera $2 failed: $(cat "$log")"
  for line in "frames: $4" "unstamped: 0" "mismatched: 0" "out-of-order: 0" ok; do
    grep -qx "$line" "$log" || fail "check of camera $2: no \"$line\": $(cat "$log")"
  done
}

# expect_first_bytes DISPLAY CAMERA STAMP FRAMES: live.mp4 of CAMERA, read
# with fmp4-stamps until FRAMES frames, begins with the init segment and a
# keyframe and holds FRAMES frames stamped STAMP in order; the units stay in
# $T/first-CAMERA.txt.
expect_first_bytes() {
  local out=$T/first-$2.txt
  { curl_as "$1" -N --max-time 30 "$(url "/v1/cameras/$2/live.mp4")" || true; } |
    "$HEARTH_BUILD_DIR/tests/tools/fmp4-stamps" --frames "$4" >"$out"
  [ "$(sed -n 1p "$out")" = init ] || fail "first unit is not the init segment: $(head -3 "$out")"
  sed -n 2p "$out" | grep -q "^frame key=1 stamp=$3 " ||
    fail "second unit is not a stamped keyframe: $(sed -n 2p "$out")"
  awk -v id="$3" '/^frame/ {
      split($3, s, "="); split($4, c, "=");
      if (s[2] != id) { print "frame of " s[2]; exit 1 }
      if (n++ && c[2] != last + 1) { print "counter " c[2] " after " last; exit 1 }
      last = c[2] }' "$out" || fail "stamps out of order or of another camera"
  [ "$(grep -c '^frame' "$out")" = "$4" ] || fail "not $4 frames: $(cat "$out")"
}

# hls_get DISPLAY CAMERA NAME FILE: one LL-HLS file of CAMERA into FILE;
# prints the HTTP status.
hls_get() {
  curl_as "$1" -sS --max-time 10 -o "$4" -w '%{http_code}' "$(url "/v1/cameras/$2/hls/$3")"
}

# hls_check [--text-only] DISPLAY CAMERA FILE: the playlist FILE of CAMERA
# keeps the rules of LL-HLS (draft-pantos-hls-rfc8216bis: part durations
# against the part target, EXTINF the sum of its parts, target duration,
# hold-back, blocking reload, one preload hint, one generation per
# EXT-X-MAP), and each part it lists, fetched, starts with a keyframe exactly
# when it says INDEPENDENT=YES and holds the media it says, its audio in time
# with its video (tests/e2e/hls-check.py). Across calls on one CAMERA, media
# sequence numbers never go back and a segment keeps its number.
# --text-only: the playlist's text only (not what its parts last), for one
# read a while ago (its parts may be gone).
hls_check() {
  local only=()
  [ "$1" != --text-only ] || { only=(--text-only); shift; }
  python3 "$(dirname "${BASH_SOURCE[0]}")/hls-check.py" "${only[@]}" "$3" "$T/hls-check-$2.json" \
    "$(url "/v1/cameras/$2/hls/")" --cert "$(cert_of "$1")" --key "$(key_of "$1")" \
    --cacert "$(gateway_cert)" >"$3.problems" 2>&1 ||
    fail "the playlist of camera $2 breaks the rules: $(cat "$3.problems")
$(cat "$3")"
}

# hls_wait_playlist DISPLAY CAMERA N PART: into $T/hls, CAMERA's playlist
# once N segments more than it lists now are there and part PART of the one
# after (a blocking reload), checked with hls_check, and its init segment,
# whose name goes into HLS_INIT.
hls_wait_playlist() {
  local msn segments
  mkdir -p "$T/hls"
  [ "$(hls_get "$1" "$2" index.m3u8 "$T/hls/index.m3u8")" = 200 ] ||
    fail "no playlist: $(cat "$T/hls/index.m3u8")"
  msn=$(sed -n 's/^#EXT-X-MEDIA-SEQUENCE:\([0-9]*\)$/\1/p' "$T/hls/index.m3u8")
  segments=$(grep -c '^seg-' "$T/hls/index.m3u8" || true)
  [ "$(hls_get "$1" "$2" "index.m3u8?_HLS_msn=$((msn + segments + $3))&_HLS_part=$4" \
       "$T/hls/index.m3u8")" = 200 ] || fail "no playlist: $(cat "$T/hls/index.m3u8")"
  hls_check "$1" "$2" "$T/hls/index.m3u8"
  HLS_INIT=$(sed -n 's/^#EXT-X-MAP:URI="\(init-[0-9]*\.mp4\)"$/\1/p' "$T/hls/index.m3u8")
  [ -n "$HLS_INIT" ] || fail "no EXT-X-MAP: $(cat "$T/hls/index.m3u8")"
  [ "$(hls_get "$1" "$2" "$HLS_INIT" "$T/hls/$HLS_INIT")" = 200 ] || fail "no init segment"
}

# expect_snapshot DISPLAY CAMERA WIDTHxHEIGHT: waits for CAMERA's
# snapshot.jpg (503 with Retry-After until its generation has a keyframe)
# and checks that it is a JPEG of that size.
snapshot_ok() {
  [ "$(curl_as "$1" -o "$3" -w '%{http_code}' --max-time 10 "$(url "/v1/cameras/$2/snapshot.jpg")")" = 200 ]
}
expect_snapshot() {
  local file=$T/snapshot-$2.jpg
  wait_for 20 "a snapshot of camera $2" snapshot_ok "$1" "$2" "$file"
  ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$file" |
    grep -qx "mjpeg,${3/x/,}" || fail "the snapshot of camera $2 is not a $3 JPEG"
}

# ffprobe_as NAME ARGS...: ffprobe with that display's certificate (give it
# the stream's URL among ARGS).
ffprobe_as() {
  local name=$1
  shift
  ffprobe -v error -cert_file "$(cert_of "$name")" -key_file "$(key_of "$name")" \
    -ca_file "$(gateway_cert)" -tls_verify 1 -rw_timeout 20000000 "$@"
}

# ffprobe_decodes NAME CAMERA FRAMES DECODER: ffprobe decodes the first
# FRAMES frames of a fresh live.mp4 of CAMERA, and the decoder (h264, hevc)
# says nothing (it would say "[hevc @ …] …").
ffprobe_decodes() {
  local out=$T/decode-$2
  ffprobe_as "$1" -select_streams v -count_frames -show_entries stream=nb_read_frames \
    -of csv=p=0 -read_intervals "%+#$3" "$(url "/v1/cameras/$2/live.mp4")" \
    >"$out.txt" 2>"$out.err" || fail "ffprobe could not decode: $(cat "$out.err")"
  [ "$(cat "$out.txt")" -ge "$3" ] || fail "ffprobe decoded $(cat "$out.txt") frames"
  ! grep -q "^\[$4 @" "$out.err" || fail "the decoder complained: $(cat "$out.err")"
}

# watch_start CAMERA STAMP DISPLAY-COMMAND...: a display (DISPLAY-COMMAND is
# e.g. "display tv", or "ns_display gw tv") keeps checking CAMERA,
# reconnecting whenever its stream ends, until watch_stop; returns once it
# received a frame stamped STAMP.
watch_start() {
  local camera=$1 stamp=$2
  shift 2
  WATCH=$T/watch-$stamp
  mkdir -p "$WATCH"
  touch "$WATCH/on"
  (
    i=0
    while [ -e "$WATCH/on" ]; do
      i=$((i + 1))
      "$@" check "$camera" --frames 100000 --timeout 5 --mdns-timeout 0 --no-decode \
        --frame-log "$WATCH/$i.frames" >/dev/null 2>&1 || true
    done
  ) &
  WATCHER=$!
  PIDS+=($WATCHER)
  wait_for 30 "the watching display to receive frames stamped $stamp" \
    grep -rqs " $stamp " "$WATCH"
}

# watch_stop STAMP: fails if any frame the watching display received carried
# STAMP (another device's).
watch_stop() {
  rm -f "$WATCH/on"
  wait "$WATCHER" 2>/dev/null || true
  ! grep -rqs " $1 " "$WATCH" || fail "a display received frames stamped $1 (another device)"
}
