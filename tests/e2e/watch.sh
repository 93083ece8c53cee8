#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The walking skeleton end to end: a fake RTSP camera → hearthd → hearthctl
# pair → hearth-display pair → hearth-display check receives 60 frames, all
# stamped by that camera; ffprobe reads live.mp4 with the display's
# certificate and the gateway certificate the display kept, as the README
# shows; keys and state are private. The demo camera (hearthd --demo, no test
# stamps) passes check as any camera does, fails it when stamps are required,
# and is found by its name in another case; play with no display to show a
# window on says so instead of crashing.
source "$(dirname "$0")/lib.sh"

start_camera door
start_gateway --demo

# --demo made the household Home with the camera Demo.
camera_id=$(ctl camera add --household Home --name Door "$CAM_URL_door")
[[ $camera_id =~ ^[0-9a-f-]{36}$ ]] || fail "camera add printed “$camera_id”"
streaming() { [ "$(ctl --json camera stats "$1" | json 'j["state"]')" = streaming ]; }
wait_for 30 "camera to stream" streaming "$camera_id"

# Pair through the waiting form of hearthctl pair, as an admin would.
ctl pair --household Home --png "$T/pair.png" >"$T/pair-ctl.log" 2>&1 &
pair_pid=$!
wait_for 20 "pairing payload" grep -q '^https://.*/pair?' "$T/pair-ctl.log"
payload=$(grep -m1 '^https://.*/pair?' "$T/pair-ctl.log")
test -s "$T/pair.png" || fail "no QR PNG written"
display living pair --qr-image "$T/pair.png" --name "Living room" | tee "$T/pair-display.log"
grep -q "paired as display" "$T/pair-display.log" || fail "display did not say it paired"
wait "$pair_pid" || fail "hearthctl pair did not exit 0 after the pairing"
grep -q "paired display .*Living room" "$T/pair-ctl.log" || fail "hearthctl pair did not name the display: $(cat "$T/pair-ctl.log")"
[ -n "$payload" ]

# The display lists the household's camera and watches it.
display living list | tee "$T/list.log"
grep -q "$camera_id" "$T/list.log" || fail "camera not listed"
grep -q "Door" "$T/list.log" || fail "camera name not listed"

display living check "$camera_id" --frames 60 --expect-stamp "$CAM_ID_door" \
  --timeout 60 | tee "$T/check.log"
grep -qx "frames: 60" "$T/check.log" || fail "did not receive 60 frames"
grep -qx "mismatched: 0" "$T/check.log" || fail "frames of another camera"
grep -qx "unstamped: 0" "$T/check.log" || fail "unstamped frames"
grep -qx "decode-errors: 0" "$T/check.log" || fail "decode errors"
grep -qx "ok" "$T/check.log" || fail "check did not say ok"

# Any camera passes check, stamps or not: the demo camera has none. Its
# name is matched in any case.
demo_id=$(ctl --json camera list | json '[c["id"] for c in j["cameras"] if c["name"]=="Demo"][0]')
wait_for 30 "the demo camera to stream" streaming "$demo_id"
display living check demo --frames 30 --timeout 60 >"$T/demo.log" ||
  fail "check of the demo camera failed: $(cat "$T/demo.log")"
for line in "frames: 30" "unstamped: 30" "out-of-order: 0" "decode-errors: 0" "size: 640x360" ok; do
  grep -qx "$line" "$T/demo.log" || fail "check of the demo camera: no “$line”: $(cat "$T/demo.log")"
done
grep -q "^decoded: [1-9]" "$T/demo.log" || fail "nothing decoded: $(cat "$T/demo.log")"
sed 's/^/#   /' "$T/demo.log"
# A frozen picture fails check: the display is stopped while the camera
# makes 30 frames (1 s), a gap longer than --max-gap 0.5.
demo_frames() { ctl --json camera stats "$demo_id" | json 'j["frames"]'; }
made_frames() { [ "$(demo_frames)" -ge "$1" ]; }
logged_frames() { [ -s "$T/gap.frames" ] && [ "$(wc -l <"$T/gap.frames")" -ge "$1" ]; }
ASAN_OPTIONS=detect_leaks=0 "$BIN_DISPLAY" --config-dir "$T/display-living" check demo \
  --frames 90 --timeout 60 --max-gap 0.5 --frame-log "$T/gap.frames" >"$T/gap.log" 2>&1 &
gap_pid=$!
PIDS+=($gap_pid)
wait_for 30 "the display to receive frames" logged_frames 5
kill -STOP "$gap_pid"
frames_before=$(demo_frames)
wait_for 20 "the camera to make 30 frames" made_frames $((frames_before + 30))
kill -CONT "$gap_pid"
rc=0; wait "$gap_pid" || rc=$?
[ $rc -eq 1 ] && grep -Eq "^FAILED: [0-9]+ gaps between frames longer than 500 ms" "$T/gap.log" ||
  fail "a frozen picture: exit $rc: $(cat "$T/gap.log")"

# Stamps can be required: then it fails, and says why.
rc=0; display living check Demo --frames 10 --timeout 60 --require-stamps >"$T/demo-stamps.log" || rc=$?
[ $rc -eq 1 ] || fail "check --require-stamps of an unstamped camera: exit $rc"
grep -qx "FAILED: 10 of 10 frames had no test stamp, and stamps were required .*" "$T/demo-stamps.log" ||
  fail "check --require-stamps: $(cat "$T/demo-stamps.log")"

# play with no display (over ssh): a clear message and an exit status, no crash.
# (A player that found a sink anyway would play on: timeout ends it.)
rc=0; timeout 30 env -u DISPLAY -u WAYLAND_DISPLAY "$BIN_DISPLAY" --config-dir "$T/display-living" \
  play door >"$T/play.log" 2>&1 || rc=$?
[ $rc -eq 69 ] || fail "play without a display: exit $rc: $(cat "$T/play.log")"
grep -q "neither DISPLAY (X11) nor WAYLAND_DISPLAY" "$T/play.log" &&
  grep -q "hearth-display check door" "$T/play.log" || fail "play without a display: $(cat "$T/play.log")"

# A real player reads the live stream with the display's certificate, and the
# gateway's, both as the display kept them (README).
ffprobe -v error -cert_file "$T/display-living/display.crt" -key_file "$T/display-living/display.key" \
  -ca_file "$T/display-living/gateway.crt" -tls_verify 1 -rw_timeout 20000000 \
  -select_streams v -show_entries stream=codec_name,width,height -of csv=p=0 \
  -read_intervals %+#5 "$(url "/v1/cameras/$camera_id/live.mp4")" >"$T/ffprobe.log" 2>"$T/ffprobe.err" ||
  fail "ffprobe failed: $(cat "$T/ffprobe.err")"
grep -qx "h264,640,360" "$T/ffprobe.log" || fail "ffprobe saw $(cat "$T/ffprobe.log")"

# Secrets are private.
[ "$(stat -c %a "$T/state")" = 700 ] || fail "state dir is not 0700"
[ "$(stat -c %a "$T/state/gateway.key")" = 600 ] || fail "gateway key is not 0600"
[ "$(stat -c %a "$T/state/hearth.db")" = 600 ] || fail "database is not 0600"
[ "$(stat -c %a "$T/display-living/display.key")" = 600 ] || fail "display key is not 0600"
! grep -q "BEGIN PRIVATE KEY\|$(sed -n 's/.*[?&]t=\([0-9a-f]*\).*/\1/p' <<<"$payload")" "$T/hearthd.log" ||
  fail "a secret reached the gateway log"

stop_gateway
log "ok"
