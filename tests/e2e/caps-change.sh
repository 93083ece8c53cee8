#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A camera that changes resolution or codec: a new stream generation with a
# new init segment, and displays follow.
#
# 1. Resolution, inside one RTSP session (fake-camera --resize, on SIGUSR1):
#    the gateway replaces its muxer at the caps change and starts a new
#    generation at once (no reconnect, no backoff). A display watching
#    (check --follow) sees its live.mp4 end cleanly, asks again, and goes on:
#    every frame stamped by the camera, in order, none of the old size after
#    the new, and it ends up with the new size. The gap around the change is
#    measured and printed. A fresh live.mp4 (ffprobe) and the LL-HLS
#    playlist's new EXT-X-MAP show the new size; to a player that reloaded
#    the playlist before, its segment numbers go on, with a discontinuity.
# 2. Codec: the H.264 camera is replaced by an H.265 one at the same URL
#    (same stamp id): a reconnect, a new generation whose init is hvc1, and
#    the display follows across it.
source "$(dirname "$0")/lib.sh"

start_camera cam --resize 320x180
start_gateway

ctl household add Home
cam=$(ctl camera add --household Home --name Door "$CAM_URL_cam")
pair_display tv Home
streaming() { [ "$(ctl --json camera stats "$cam" | json 'j["state"]')" = streaming ]; }
generation() { ctl --json camera stats "$cam" | json 'j["generation"]'; }
frames_in() { [ -s "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
ffprobe_live() {
  ffprobe_as tv -select_streams v -show_entries stream=codec_name,codec_tag_string,width,height \
    -of csv=p=0 -read_intervals %+#5 "$(url "/v1/cameras/$cam/live.mp4")"
}
# watch_follow NAME FRAMES: the display checks the camera with --follow in
# the background, until FRAMES frames (frame log $T/NAME.frames).
watch_follow() {
  display tv check "$cam" --follow --frames "$2" --timeout 90 --expect-stamp "$CAM_ID_cam" \
    --frame-log "$T/$1.frames" >"$T/$1.log" 2>"$T/$1.err" &
  check_pid=$!
  PIDS+=($check_pid)
}
# followed NAME SIZE FRAMES: it followed, and received FRAMES frames, all
# stamped by the camera, in order, the last of them SIZE.
followed() {
  local rc=0 line
  wait "$check_pid" || rc=$?
  [ $rc -eq 0 ] || fail "the display did not follow (exit $rc): $(cat "$T/$1.log" "$T/$1.err")"
  sed 's/^/#   /' "$T/$1.log"
  for line in "ok" "frames: $3" "unstamped: 0" "mismatched: 0" "out-of-order: 0" "size: $2"; do
    grep -qx "$line" "$T/$1.log" || fail "check: no “$line”: $(cat "$T/$1.log")"
  done
  grep -q "^reconnects: [1-9]" "$T/$1.log" || fail "the display never asked again: $(cat "$T/$1.log")"
}
wait_for 30 "the camera to stream" streaming

ffprobe_live >"$T/before.txt" 2>&1 || fail "ffprobe: $(cat "$T/before.txt")"
grep -qx "h264,avc1,640,360" "$T/before.txt" || fail "before the change: $(cat "$T/before.txt")"
gen_before=$(generation)
# A player reloading the LL-HLS playlist across the change: see below.
hls_wait_playlist tv "$cam" 1 0

# --- 1. resolution, inside the session ---------------------------------------
log "resize"
watch_follow resize 150
wait_for 30 "the display to receive 45 frames" frames_in "$T/resize.frames" 45
kill -USR1 "$CAM_PID_cam"
wait_for 20 "the gateway to see the new size" grep -q "the video changed to h264 320x180" "$T/hearthd.log"
followed resize 320x180 150
# The gateway did not go offline or reconnect: the same session went on.
! grep -q "is offline" "$T/hearthd.log" || fail "the ingest restarted: $(grep 'is offline' "$T/hearthd.log")"
[ "$(generation)" != "$gen_before" ] || fail "no new generation"

# Frame by frame: counters strictly increasing (one camera process, one
# session), and the gap around the change.
awk '{ if (NR > 1) { if ($3 <= c) { print "counter " $3 " after " c; bad = 1 }
                     if ($4 <= t) { print "captured " $4 " after " t; bad = 1 }
                     g = $1 - r; if (g > gap) { gap = g; at = NR } lost += $3 - c - 1 }
       r = $1; c = $3; t = $4 }
     END { printf "gap-ms %.1f at-frame %d lost %d\n", gap / 1000, at, lost; exit bad }' \
  "$T/resize.frames" >"$T/resize.gap" || fail "frames out of order: $(cat "$T/resize.gap")"
read -r _ gap_ms _ at_frame _ lost <"$T/resize.gap"
log "resolution change: longest gap between two frames at the display ${gap_ms} ms" \
  "(frame $at_frame), frames lost: $lost"
# Generous: the display reconnects at once and the new generation starts on
# the keyframe that carried the change.
awk -v g="$gap_ms" 'BEGIN { exit !(g < 5000) }' || fail "a gap of $gap_ms ms at the change"

# A fresh live.mp4: the new init segment.
ffprobe_live >"$T/after.txt" 2>&1 || fail "ffprobe: $(cat "$T/after.txt")"
grep -qx "h264,avc1,320,180" "$T/after.txt" || fail "after the change: $(cat "$T/after.txt")"
ffprobe_decodes tv "$cam" 30 h264
curl_as tv --max-time 10 "$(url /v1/cameras)" >"$T/cameras.json"
[ "$(json "[j['cameras'][0]['width'], j['cameras'][0]['height']] == [320, 180]" <"$T/cameras.json")" = True ] ||
  fail "camera list: $(cat "$T/cameras.json")"

# LL-HLS: the playlist maps the new generation's init, which is 320x180;
# to the player that reloaded it before, it goes on: media sequence numbers
# on from the old generation's, and a discontinuity.
hls() { curl_as tv -sS --max-time 10 -o "$2" -w '%{http_code}' "$(url "/v1/cameras/$cam/hls/$1")"; }
[ "$(hls index.m3u8 "$T/hls/index.m3u8")" = 200 ] || fail "no playlist: $(cat "$T/hls/index.m3u8")"
grep -qx "#EXT-X-MAP:URI=\"init-$(generation).mp4\"" "$T/hls/index.m3u8" ||
  fail "the playlist does not map the new generation $(generation): $(cat "$T/hls/index.m3u8")"
hls_check tv "$cam" "$T/hls/index.m3u8"
[ "$(hls "init-$(generation).mp4" "$T/hls/init.mp4")" = 200 ] || fail "no init segment"
[ "$(hls "init-$gen_before.mp4" "$T/hls/old.mp4")" = 404 ] || fail "the old generation's init is still served"
ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$T/hls/init.mp4" |
  grep -qx "320,180" || fail "the HLS init segment is not 320x180"

# --- 2. codec: the camera comes back as H.265 at the same URL ---------------
log "codec"
port=${CAM_URL_cam##*:}
port=${port%%/*}
gen_h264=$(generation)
watch_follow codec 120
wait_for 30 "the display to receive 30 frames" frames_in "$T/codec.frames" 30
kill -TERM "$CAM_PID_cam"
wait "$CAM_PID_cam" 2>/dev/null || true
start_camera hevc --codec h265 --port "$port" --stamp-id "$CAM_ID_cam"
followed codec 640x360 120
[ "$(generation)" != "$gen_h264" ] || fail "no new generation"
ffprobe_live >"$T/hevc.txt" 2>&1 || fail "ffprobe: $(cat "$T/hevc.txt")"
grep -qx "hevc,hvc1,640,360" "$T/hevc.txt" || fail "after the codec change: $(cat "$T/hevc.txt")"
awk '{ if (NR > 1) { g = $1 - r; if (g > gap) gap = g } r = $1 }
     END { printf "%.1f\n", gap / 1000 }' "$T/codec.frames" >"$T/codec.gap"
log "codec change (camera replaced): longest gap at the display $(cat "$T/codec.gap") ms"

stop_gateway
log "ok"
