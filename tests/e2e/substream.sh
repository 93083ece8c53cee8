#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Main and sub streams (issue 15): an ONVIF camera with two profiles
# (tests/tools/fake-onvif.py: a 1280x720 main stream and a 640x360 sub stream,
# each stamped with its own id), adopted with its password on a LAN of
# network namespaces (netns.sh), is ingested twice, and each stream is
# served only where it was asked for:
#
#   /v1/cameras says the camera has a sub stream, and its size; camera stats
#   show both streams' figures;
#   the reference display (--stream sub) and ffprobe play ?stream=sub at
#   640x360 and the main stream at 1280x720, every frame stamped by the
#   stream asked for (a sub frame never reaches a main request, nor the
#   other way round);
#   the sub's LL-HLS playlist names its URIs with ?stream=sub, and its init
#   segment and parts play at 640x360; the snapshot of the sub is 640x360,
#   the main's 1280x720;
#   the browser viewer (headless Chromium) plays the sub stream in its grid
#   (640x360, asked for with ?stream=sub) and the main one when the camera
#   is opened (1280x720), but the sub on a small screen;
#   ?stream= with another value is a 400, ?stream=sub of a camera without a
#   sub stream a 404 that says so;
#   another ONVIF device taking the camera's address quarantines it: neither
#   stream serves (503), and no frame of that device reaches a display that
#   watches the sub stream; removed, neither stream is there (404).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/onvif-lib.sh"
source "$(dirname "$0")/browser.sh"

_onvif_require
LAN=10.83.0

ns_lan
ns_host gw
ns_attach gw "$LAN.1/24"
ns_host cam
ns_attach cam "$LAN.2/24"

password="sub-$$-$RANDOM-secret"
printf '%s\n' "$password" >"$T/password"
chmod 600 "$T/password"

ns_gateway gw
ctl household add Home >/dev/null

entry() { ctl --json camera list --discovered | json "[c for c in j['cameras'] if c['address'] == '$1'][0]['$2']"; }
is_listed() { entry "$1" id >/dev/null 2>&1; }
camera_field() { ctl --json camera list | json "[c['$2'] for c in j['cameras'] if c['id'] == '$1'][0]"; }
camera_is() { [ "$(camera_field "$1" "$2")" = "$3" ]; }
stats() { ctl --json camera stats "$1" | json "$2"; }
sub_streams() { [ "$(stats "$1" "j['sub']['state']")" = streaming ]; }

# get DISPLAY PATH FILE: an HTTPS GET from the gateway's host with that
# display's certificate; prints the status.
get() {
  ns_run gw curl -sS --max-time 10 --cert "$(cert_of "$1")" --key "$(key_of "$1")" \
    --cacert "$(gateway_cert)" -o "$3" -w '%{http_code}' "$(url "$2")"
}
# size FILE: "WIDTHxHEIGHT" of its video.
size() {
  ffprobe -v error -select_streams v -show_entries stream=width,height -of csv=p=0:s=x "$1"
}
# probe DISPLAY PATH: ffprobe reads 10 frames of a live.mp4; prints
# "codec,width,height".
probe() {
  ns_run gw ffprobe -v error -cert_file "$(cert_of "$1")" -key_file "$(key_of "$1")" \
    -ca_file "$(gateway_cert)" -tls_verify 1 -rw_timeout 20000000 -select_streams v \
    -count_frames -show_entries stream=codec_name,width,height -of csv=p=0 \
    -read_intervals "%+#10" "$(url "$2")" 2>"$T/ffprobe.err" || fail "ffprobe $2: $(cat "$T/ffprobe.err")"
}
# check STREAM STAMP SIZE: the reference display receives 30 frames of the
# camera's STREAM, every one stamped STAMP, of SIZE.
check() {
  local log=$T/check-$1.log line
  ns_display gw tv check "$id" --stream "$1" --frames 30 --expect-stamp "$2" --timeout 60 \
    >"$log" || fail "the display on the $1 stream: $(cat "$log")"
  for line in "frames: 30" "unstamped: 0" "mismatched: 0" "size: $3" ok; do
    grep -qx "$line" "$log" || fail "the display on the $1 stream: no \"$line\": $(cat "$log")"
  done
}

# --- an ONVIF camera with two profiles, adopted -----------------------------------
ns_onvif cam A --user admin --password-file "$T/password" --maker "Acme Vision" --model AV-2040
wait_for 10 "the ONVIF camera to be listed" is_listed "$LAN.2:80"
id=$(ctl camera adopt "$(entry "$LAN.2:80" id)" --household Home --user admin \
  --password-file "$T/password" 2>"$T/adopt.err") || fail "adopt: $(cat "$T/adopt.err")"
camera_is "$id" sub_url "$ONVIF_SUB_URI_A" || fail "sub_url $(camera_field "$id" sub_url)"
wait_for 30 "the main stream" camera_is "$id" state streaming
wait_for 30 "the sub stream" sub_streams "$id"

payload=$(ctl pair --household Home --print-payload)
ns_display gw tv pair "$payload" --name TV >"$T/pair.log" 2>&1 || fail "pair: $(cat "$T/pair.log")"

# --- what clients and the admin are told ------------------------------------------
[ "$(get tv /v1/cameras "$T/cameras.json")" = 200 ] || fail "/v1/cameras: $(cat "$T/cameras.json")"
sub=$(json "[c['sub'] for c in j['cameras'] if c['id'] == '$id'][0]" <"$T/cameras.json")
[ "$(json "(j['state'], j['width'], j['height'])" <<<"$sub")" = "('streaming', 640, 360)" ] ||
  fail "/v1/cameras' sub: $(cat "$T/cameras.json")"
[ "$(json "[(c['width'], c['height']) for c in j['cameras'] if c['id'] == '$id'][0]" \
  <"$T/cameras.json")" = "(1280, 720)" ] || fail "/v1/cameras' main: $(cat "$T/cameras.json")"
grep -q sub_url "$T/cameras.json" && fail "a display sees the sub URL: $(cat "$T/cameras.json")"
ctl camera stats "$id" >"$T/stats.txt" || fail "camera stats"
for line in "sub.state: streaming" "sub.width: 640" "sub.height: 360"; do
  grep -qx "$line" "$T/stats.txt" || fail "camera stats: no \"$line\": $(cat "$T/stats.txt")"
done
frames_of() { [ "$(stats "$id" "$1")" -gt 0 ]; }
wait_for 10 "both streams' frames counted" eval 'frames_of "j[\"frames\"]" && frames_of "j[\"sub\"][\"frames\"]"'

# --- each stream where it was asked for, stamped by its own stream ----------------
check sub "$ONVIF_SUB_STAMP_A" 640x360
check main "$ONVIF_MAIN_STAMP_A" 1280x720
[ "$(probe tv "/v1/cameras/$id/live.mp4?stream=sub")" = h264,640,360 ] || fail "ffprobe of the sub stream"
[ "$(probe tv "/v1/cameras/$id/live.mp4?stream=main")" = h264,1280,720 ] || fail "ffprobe ?stream=main"
[ "$(probe tv "/v1/cameras/$id/live.mp4")" = h264,1280,720 ] || fail "ffprobe of the main stream"

# --- LL-HLS and snapshots of the sub ------------------------------------------------
hls=/v1/cameras/$id/hls
wait_for 20 "the sub stream's playlist" eval \
  '[ "$(get tv "$hls/index.m3u8?stream=sub" "$T/sub.m3u8")" = 200 ] && grep -q "^#EXT-X-PART:" "$T/sub.m3u8"'
init=$(sed -n 's/^#EXT-X-MAP:URI="\(init-[0-9]*\.mp4?stream=sub\)"$/\1/p' "$T/sub.m3u8")
part=$(sed -n 's/^#EXT-X-PART:.*URI="\(part-[0-9]*-[0-9]*\.m4s?stream=sub\)",INDEPENDENT=YES$/\1/p' \
  "$T/sub.m3u8" | tail -1)
[ -n "$init" ] && [ -n "$part" ] || fail "the sub's playlist names no ?stream=sub URIs: $(cat "$T/sub.m3u8")"
! grep -E '(init|part|seg)-[0-9-]*\.(mp4|m4s)("|$)' "$T/sub.m3u8" ||
  fail "a URI of the sub's playlist lacks ?stream=sub: $(cat "$T/sub.m3u8")"
[ "$(get tv "$hls/$init" "$T/sub-init.mp4")" = 200 ] || fail "the sub's init segment"
[ "$(get tv "$hls/$part" "$T/sub-part.m4s")" = 200 ] || fail "the sub's part $part"
cat "$T/sub-init.mp4" "$T/sub-part.m4s" >"$T/sub-hls.mp4"
[ "$(size "$T/sub-hls.mp4")" = 640x360 ] || fail "the sub's LL-HLS is $(size "$T/sub-hls.mp4")"
# The sub's names are of its own generation line: not the main's.
[ "$(get tv "$hls/${init%%\?*}" "$T/main-init.mp4")" = 404 ] ||
  fail "the sub's init segment was served on a main request"
wait_for 20 "the main stream's playlist" eval \
  '[ "$(get tv "$hls/index.m3u8" "$T/main.m3u8")" = 200 ] && grep -q "^#EXT-X-MAP" "$T/main.m3u8"'
! grep -q 'stream=' "$T/main.m3u8" || fail "the main playlist names a stream: $(cat "$T/main.m3u8")"

snapshot() { [ "$(get tv "/v1/cameras/$id/snapshot.jpg$1" "$2")" = 200 ]; }
wait_for 20 "a snapshot of the sub" snapshot "?stream=sub" "$T/sub.jpg"
[ "$(size "$T/sub.jpg")" = 640x360 ] || fail "the sub's snapshot is $(size "$T/sub.jpg")"
wait_for 20 "a snapshot of the main" snapshot "" "$T/main.jpg"
[ "$(size "$T/main.jpg")" = 1280x720 ] || fail "the main's snapshot is $(size "$T/main.jpg")"

# --- the browser viewer: the grid plays the sub, the camera's own view the main -----
BROWSER_HOST=gw
ns_display gw web pair "$(ctl pair --household Home --print-payload)" --name Web >"$T/pair-web.log" 2>&1 ||
  fail "pair: $(cat "$T/pair-web.log")"
browser_start web web
browser web open "$(url /)" >/dev/null
JS_GRID='(() => { const v = document.querySelector(".camera video");
  return v && v.readyState >= 2 && !v.paused && v.currentTime > 0 && `${v.videoWidth}x${v.videoHeight}`; })()'
[ "$(browser_wait web 30 "the grid to play the sub stream" "$JS_GRID")" = '"640x360"' ] ||
  fail "the grid's video: $(browser web eval "$JS_GRID")"
[ "$(browser web eval 'document.querySelector(".camera video").dataset.stream')" = '"sub"' ] ||
  fail "the grid's video does not say it plays the sub stream"
browser web eval 'document.querySelector(".camera").click()' >/dev/null
JS_LIVE='(() => { const v = document.getElementById("video");
  return document.body.dataset.state === "playing" && v.currentTime > 0 &&
    `${document.body.dataset.stream} ${v.dataset.stream} ${v.videoWidth}x${v.videoHeight}`; })()'
[ "$(browser_wait web 30 "the camera's view to play the main stream" "$JS_LIVE")" = '"main main 1280x720"' ] ||
  fail "the camera's view: $(browser web eval "$JS_LIVE")"
[ "$(browser web eval 'document.querySelectorAll(".camera video[src]").length')" = 0 ] ||
  fail "the grid still plays behind the camera's view"
browser_stop web
# On a small screen the camera's view, opened by its link, plays the sub.
browser_launch web chromium --window-size=600,900
browser web open "$(url "/#camera=$id")" >/dev/null
[ "$(browser_wait web 30 "the small screen to play the sub stream" "$JS_LIVE")" = '"sub sub 640x360"' ] ||
  fail "the camera's view on a small screen: $(browser web eval "$JS_LIVE")"
browser_stop web

# --- what is refused ----------------------------------------------------------------
for path in "live.mp4?stream=low" "snapshot.jpg?stream=" "hls/index.m3u8?stream=SUB"; do
  [ "$(get tv "/v1/cameras/$id/$path" "$T/bad.json")" = 400 ] || fail "$path: not a 400"
  grep -q "stream must be main or sub" "$T/bad.json" || fail "$path: $(cat "$T/bad.json")"
done
# A camera added by hand, with one URL (no host answers there).
plain=$(ctl camera add --household Home --name Plain "rtsp://$LAN.9:554/plain")
for path in "live.mp4?stream=sub" "snapshot.jpg?stream=sub" "hls/index.m3u8?stream=sub"; do
  [ "$(get tv "/v1/cameras/$plain/$path" "$T/none.json")" = 404 ] || fail "$path of Plain: not a 404"
  grep -q "this camera has no sub stream" "$T/none.json" || fail "$path: $(cat "$T/none.json")"
done
[ "$(get tv /v1/cameras "$T/cameras.json")" = 200 ] &&
  [ "$(json "[c['sub'] for c in j['cameras'] if c['id'] == '$plain'][0]" <"$T/cameras.json")" = None ] ||
  fail "Plain has a sub stream: $(cat "$T/cameras.json")"
ctl camera remove "$plain" >/dev/null

# --- another device at its address: neither stream serves ---------------------------
watch_start "$id" "$ONVIF_SUB_STAMP_A" ns_display gw tv --stream sub
ns_onvif_stop A
ns_onvif cam D --maker Intruder --model X
wait_for 30 "the camera to be quarantined" camera_is "$id" state quarantined
asked=$(find "$WATCH" -name '*.frames' | wc -l)
display_asked() { [ "$(find "$WATCH" -name '*.frames' | wc -l)" -ge $((asked + 3)) ]; }
wait_for 60 "the display to ask for the sub stream three more times" display_asked
watch_stop "$ONVIF_SUB_STAMP_D"
! grep -rqs " $ONVIF_MAIN_STAMP_D " "$WATCH" || fail "a frame of D's main stream reached the display"
for path in live.mp4 "live.mp4?stream=sub" "snapshot.jpg?stream=sub" "hls/index.m3u8?stream=sub"; do
  status=$(get tv "/v1/cameras/$id/$path" "$T/quarantined.out")
  [ "$status" = 503 ] || [ "$status" = 404 ] || fail "$path of the quarantined camera: $status"
done

ctl camera remove "$id" >/dev/null
for path in live.mp4 "live.mp4?stream=sub" "snapshot.jpg?stream=sub"; do
  [ "$(get tv "/v1/cameras/$id/$path" "$T/removed.out")" = 404 ] || fail "$path of the removed camera"
done

# --- no credential anywhere ----------------------------------------------------------
for f in "$T/hearthd.log" "$T/adopt.err" "$T"/check-*.log "$T/stats.txt"; do
  [ -e "$f" ] || continue
  ! grep -qF -- "$password" "$f" || fail "the password is in $f"
done

ns_onvif_stop D
stop_gateway
