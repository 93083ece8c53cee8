#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# H.265 passed through end to end: an H.265 fake camera (x265enc,
# rtph265pay, stamps in prefix SEI NALs) added by URL → hearthd (rtph265depay
# ! h265parse ! mp4mux, never transcoded) → a display's check receives every
# frame stamped by that camera; ffprobe with the display's certificate sees
# HEVC in live.mp4; the camera list says h265; snapshot.jpg is a JPEG of the
# camera's size; an H.264 camera beside it stays H.264.
source "$(dirname "$0")/lib.sh"

BIN_STAMPS=$HEARTH_BUILD_DIR/tests/tools/fmp4-stamps

start_camera hevc --codec h265 --width 480 --height 272
start_camera avc
start_gateway

ctl household add Home
cam=$(ctl camera add --household Home --name Hevc "$CAM_URL_hevc")
cam_avc=$(ctl camera add --household Home --name Avc "$CAM_URL_avc")
pair_display tv Home
streaming() { [ "$(ctl --json camera stats "$1" | json 'j["state"]')" = streaming ]; }
wait_for 30 "the H.265 camera to stream" streaming "$cam"
wait_for 30 "the H.264 camera to stream" streaming "$cam_avc"

# --- the display's check: every frame stamped by the H.265 camera ----------
log "check"
expect_check tv "$cam" "$CAM_ID_hevc" 90
sed 's/^/#   /' "$T/check-$cam.log"

# --- the raw fMP4: init, then a keyframe, stamps in order ------------------
log "first bytes"
expect_first_bytes tv "$cam" "$CAM_ID_hevc" 40
# Keyframes every 30 frames (IDRs: x265 with open-gop=0), as with H.264.
[ "$(grep -c '^frame key=1' "$T/first-$cam.txt")" = 2 ] || fail "keyframes: $(grep -n 'key=1' "$T/first-$cam.txt")"

# --- a real player: HEVC in an hvc1 sample entry ----------------------------
log "ffprobe"
ffprobe_as tv -select_streams v -show_entries stream=codec_name,codec_tag_string,width,height \
  -of csv=p=0 -read_intervals %+#5 "$(url "/v1/cameras/$cam/live.mp4")" \
  >"$T/ffprobe.log" 2>"$T/ffprobe.err" || fail "ffprobe failed: $(cat "$T/ffprobe.err")"
grep -qx "hevc,hvc1,480,272" "$T/ffprobe.log" || fail "ffprobe saw $(cat "$T/ffprobe.log")"
# The frames decode too, not only the headers.
ffprobe_decodes tv "$cam" 45 hevc

# --- LL-HLS: the same fragments, HEVC segments that start on a keyframe -----
log "hls"
hls() { hls_get tv "$cam" "$@"; }
# Two whole segments (keyframe to keyframe), asked for with a blocking reload.
hls_wait_playlist tv "$cam" 2 0
init=$HLS_INIT
grep -q '^seg-' "$T/hls/index.m3u8" || fail "no segment: $(cat "$T/hls/index.m3u8")"
for name in $(grep '^seg-' "$T/hls/index.m3u8"); do
  [ "$(hls "$name" "$T/hls/$name")" = 200 ] || fail "segment $name: $(cat "$T/hls/$name")"
done
grep -v '^#EXT-X-PART\|^#EXT-X-SERVER-CONTROL\|^#EXT-X-PRELOAD-HINT' "$T/hls/index.m3u8" >"$T/hls/local.m3u8"
echo '#EXT-X-ENDLIST' >>"$T/hls/local.m3u8"
ffprobe -v error -count_frames -select_streams v -show_entries stream=codec_name,nb_read_frames \
  -of csv=p=0 "$T/hls/local.m3u8" >"$T/hls/ffprobe.txt" 2>&1 || fail "ffprobe: $(cat "$T/hls/ffprobe.txt")"
grep -q '^hevc,[1-9]' "$T/hls/ffprobe.txt" || fail "ffprobe of the HLS segments: $(cat "$T/hls/ffprobe.txt")"
(cd "$T/hls" && "$BIN_STAMPS" "$init" $(grep '^seg-' index.m3u8)) >"$T/hls/stamps.txt"
sed -n 2p "$T/hls/stamps.txt" | grep -q "^frame key=1 stamp=$CAM_ID_hevc " ||
  fail "HLS does not start on a stamped keyframe: $(head -3 "$T/hls/stamps.txt")"
! grep -q 'stamp=none' "$T/hls/stamps.txt" || fail "unstamped frames in HLS"

# --- what the gateway reports: h265 for this camera, h264 for the other -----
log "codec"
curl_as tv --max-time 10 "$(url /v1/cameras)" >"$T/cameras.json"
codec_of() { json "[c for c in j['cameras'] if c['id'] == '$1'][0]['$2']" <"$T/cameras.json"; }
[ "$(codec_of "$cam" codec)" = h265 ] || fail "camera list: $(cat "$T/cameras.json")"
[ "$(codec_of "$cam" width)" = 480 ] && [ "$(codec_of "$cam" height)" = 272 ] ||
  fail "camera list size: $(cat "$T/cameras.json")"
[ "$(codec_of "$cam_avc" codec)" = h264 ] || fail "camera list: $(cat "$T/cameras.json")"
display tv list >"$T/list.log"
grep "$cam" "$T/list.log" | grep -qw h265 || fail "display list: $(cat "$T/list.log")"
ctl --json camera stats "$cam" >"$T/stats.json"
[ "$(json 'j["codec"]' <"$T/stats.json")" = h265 ] || fail "camera stats: $(cat "$T/stats.json")"

# --- snapshot: the H.265 keyframe decoded to a JPEG of the camera's size ----
log "snapshot"
expect_snapshot tv "$cam" 480x272

# --- the H.264 camera beside it is unchanged ---------------------------------
log "h264 beside"
expect_check tv "$cam_avc" "$CAM_ID_avc" 30

# A restart of the camera's ingest is not a failure (it reconnects, a new
# generation), but it is worth seeing.
if grep -q "is offline" "$T/hearthd.log"; then
  log "note: an ingest restarted during the test:"
  grep "is offline" "$T/hearthd.log" | sed 's/^/#   /'
fi
stop_gateway
log "ok"
