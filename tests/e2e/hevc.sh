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
display tv check "$cam" --frames 90 --expect-stamp "$CAM_ID_hevc" \
  --timeout 60 >"$T/check.log" || fail "check failed: $(cat "$T/check.log")"
grep -qx "frames: 90" "$T/check.log" || fail "did not receive 90 frames: $(cat "$T/check.log")"
grep -qx "unstamped: 0" "$T/check.log" || fail "unstamped frames: $(cat "$T/check.log")"
grep -qx "mismatched: 0" "$T/check.log" || fail "frames of another camera: $(cat "$T/check.log")"
grep -qx "out-of-order: 0" "$T/check.log" || fail "frames out of order: $(cat "$T/check.log")"
grep -qx "ok" "$T/check.log" || fail "check did not say ok: $(cat "$T/check.log")"
sed 's/^/#   /' "$T/check.log"

# --- the raw fMP4: init, then a keyframe, stamps in order ------------------
log "first bytes"
{ curl_as tv -N --max-time 30 "$(url "/v1/cameras/$cam/live.mp4")" || true; } |
  "$BIN_STAMPS" --frames 40 >"$T/first.txt"
[ "$(sed -n 1p "$T/first.txt")" = init ] || fail "first unit is not the init segment: $(head -3 "$T/first.txt")"
sed -n 2p "$T/first.txt" | grep -q "^frame key=1 stamp=$CAM_ID_hevc " ||
  fail "second unit is not a stamped keyframe: $(sed -n 2p "$T/first.txt")"
awk -v id="$CAM_ID_hevc" '/^frame/ {
    split($3, s, "="); split($4, c, "=");
    if (s[2] != id) { print "frame of " s[2]; exit 1 }
    if (n++ && c[2] != last + 1) { print "counter " c[2] " after " last; exit 1 }
    last = c[2] }' "$T/first.txt" || fail "stamps out of order or of another camera"
[ "$(grep -c '^frame' "$T/first.txt")" = 40 ] || fail "not 40 frames: $(cat "$T/first.txt")"
# Keyframes every 30 frames (IDRs: x265 with open-gop=0), as with H.264.
[ "$(grep -c '^frame key=1' "$T/first.txt")" = 2 ] || fail "keyframes: $(grep -n 'key=1' "$T/first.txt")"

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
hls() { curl_as tv -sS --max-time 10 -o "$2" -w '%{http_code}' "$(url "/v1/cameras/$cam/hls/$1")"; }
mkdir "$T/hls"
[ "$(hls index.m3u8 "$T/hls/index.m3u8")" = 200 ] || fail "no playlist: $(cat "$T/hls/index.m3u8")"
# Two whole segments (keyframe to keyframe), asked for with a blocking reload.
msn=$(sed -n 's/^#EXT-X-MEDIA-SEQUENCE:\([0-9]*\)$/\1/p' "$T/hls/index.m3u8")
segments=$(grep -c '^seg-' "$T/hls/index.m3u8" || true)
[ "$(hls "index.m3u8?_HLS_msn=$((msn + segments + 2))&_HLS_part=0" "$T/hls/index.m3u8")" = 200 ] ||
  fail "no playlist: $(cat "$T/hls/index.m3u8")"
init=$(sed -n 's/^#EXT-X-MAP:URI="\(init-[0-9]*\.mp4\)"$/\1/p' "$T/hls/index.m3u8")
[ -n "$init" ] || fail "no EXT-X-MAP: $(cat "$T/hls/index.m3u8")"
[ "$(hls "$init" "$T/hls/$init")" = 200 ] || fail "no init segment"
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
# 503 with Retry-After while a restarted camera has no keyframe yet.
snapshot_ok() {
  [ "$(curl_as tv -o "$T/snap.jpg" -w '%{http_code}' --max-time 10 "$(url "/v1/cameras/$cam/snapshot.jpg")")" = 200 ]
}
wait_for 20 "a snapshot of the H.265 camera" snapshot_ok
ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$T/snap.jpg" |
  grep -qx "mjpeg,480,272" || fail "the snapshot is not a 480x272 JPEG"

# --- the H.264 camera beside it is unchanged ---------------------------------
log "h264 beside"
display tv check "$cam_avc" --frames 30 --expect-stamp "$CAM_ID_avc" \
  --timeout 60 >"$T/check-avc.log" || fail "H.264 check failed: $(cat "$T/check-avc.log")"
grep -qx "ok" "$T/check-avc.log" || fail "H.264 check: $(cat "$T/check-avc.log")"

# A restart of the camera's ingest is not a failure (it reconnects, a new
# generation), but it is worth seeing.
if grep -q "is offline" "$T/hearthd.log"; then
  log "note: an ingest restarted during the test:"
  grep "is offline" "$T/hearthd.log" | sed 's/^/#   /'
fi
stop_gateway
log "ok"
