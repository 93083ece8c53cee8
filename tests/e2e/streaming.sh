#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Streaming end to end, proven by the fake cameras' test stamps and colours:
# a new display's first bytes are the init segment and a keyframe; stamps
# arrive in order; a stalled display does not slow another display; a camera
# restart is a new generation and nothing of the old one is served after the
# new one starts; live.mp4 of a camera that is offline or never streamed is
# a 503 with Retry-After, answered at once; snapshots are of the camera asked
# for, also after two cameras restart at once; hearthctl camera stats.
source "$(dirname "$0")/lib.sh"

BIN_STAMPS=$HEARTH_BUILD_DIR/tests/tools/fmp4-stamps

cat >"$T/hearthd.conf" <<CONF
[limits]
display-queue-bytes = 1048576
[cameras]
backoff-min-ms = 100
backoff-max-ms = 400
CONF

start_camera a --pattern red
start_camera b --pattern blue
# Noise at about 4 Mbit/s: fills a stalled display's socket buffers quickly.
start_camera c --pattern snow --bitrate 4000
start_gateway --config "$T/hearthd.conf"

ctl household add Home
ctl household add Flat2
cam_a=$(ctl camera add --household Home --name A "$CAM_URL_a")
cam_b=$(ctl camera add --household Home --name B "$CAM_URL_b")
cam_c=$(ctl camera add --household Home --name C "$CAM_URL_c")
pair_display one Home
pair_display other Flat2
streaming() { [ "$(ctl --json camera stats "$1" | json 'j["state"]')" = streaming ]; }
wait_for 30 "camera A to stream" streaming "$cam_a"
wait_for 30 "camera B to stream" streaming "$cam_b"
wait_for 30 "camera C to stream" streaming "$cam_c"

# frames_of NAME CAMERA N: the first N units a display receives of live.mp4.
frames_of() {
  { curl_as "$1" -N --max-time 30 "$(url "/v1/cameras/$2/live.mp4")" || true; } |
    "$BIN_STAMPS" --frames "$3"
}

# --- a new display's first bytes: init segment, then a keyframe -------------
log "first bytes"
frames_of one "$cam_a" 60 >"$T/first.txt"
[ "$(sed -n 1p "$T/first.txt")" = init ] || fail "first unit is not the init segment: $(head -3 "$T/first.txt")"
sed -n 2p "$T/first.txt" | grep -q "^frame key=1 stamp=$CAM_ID_a " ||
  fail "second unit is not a keyframe of camera A: $(sed -n 2p "$T/first.txt")"
[ "$(grep -c '^frame' "$T/first.txt")" = 60 ] || fail "not 60 frames: $(wc -l <"$T/first.txt")"
# Stamps in order: camera A's only, counters consecutive (nothing dropped,
# nothing repeated, nothing reordered).
awk -v id="$CAM_ID_a" '/^frame/ {
    split($3, s, "="); split($4, c, "=");
    if (s[2] != id) { print "frame of " s[2]; exit 1 }
    if (n++ && c[2] != last + 1) { print "counter " c[2] " after " last; exit 1 }
    last = c[2] }' "$T/first.txt" || fail "stamps out of order or of another camera"

# --- the other household sees neither stream nor picture --------------------
for path in live.mp4 snapshot.jpg; do
  code=$(curl_as other -o /dev/null -w '%{http_code}' --max-time 10 "$(url "/v1/cameras/$cam_a/$path")")
  [ "$code" = 404 ] || fail "display of Flat2 got $code for camera A's $path"
done

# --- a camera with nothing to serve: 503 at once, like snapshot.jpg ---------
# expect_unavailable CAMERA PATH: 503 "unavailable" in JSON with Retry-After,
# answered at once (not held until the camera comes).
expect_unavailable() {
  local code
  code=$(curl_as one -sS --max-time 10 -D "$T/unavailable.head" -o "$T/unavailable.json" \
    -w '%{http_code}' "$(url "/v1/cameras/$1/$2")") || fail "$2 of camera $1: no answer"
  [ "$code" = 503 ] || fail "$2 of camera $1 answered $code: $(head -c 200 "$T/unavailable.json")"
  grep -q $'^HTTP/1.1 503 Service Unavailable\r$' "$T/unavailable.head" ||
    fail "$2: $(head -1 "$T/unavailable.head")"
  grep -qi $'^Retry-After: 1\r$' "$T/unavailable.head" || fail "$2 of camera $1: no Retry-After"
  grep -qi '^Content-Type: application/json' "$T/unavailable.head" || fail "$2: not JSON"
  [ "$(json 'j["error"]' <"$T/unavailable.json")" = unavailable ] ||
    fail "$2 of camera $1: $(cat "$T/unavailable.json")"
}
# Adopted, but nothing answers at its address: it never streams.
dead_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cam_d=$(ctl camera add --household Home --name D "rtsp://127.0.0.1:$dead_port/stream")
for path in live.mp4 snapshot.jpg; do
  expect_unavailable "$cam_d" "$path"
done
ctl camera forget "$cam_d" >/dev/null

# --- snapshots: the colour of the camera asked for -------------------------
# colour FILE: the average colour of a JPEG, as red/green/blue/white/other.
colour() {
  ffmpeg -v error -i "$1" -vf scale=1:1 -f rawvideo -pix_fmt rgb24 - 2>/dev/null |
    od -An -tu1 | awk '{ r=$1; g=$2; b=$3;
      if (r > 150 && g > 150 && b > 150) print "white";
      else if (r > 120 && g < 90 && b < 90) print "red";
      else if (g > 120 && r < 90 && b < 90) print "green";
      else if (b > 120 && r < 90 && g < 90) print "blue";
      else print "other " r "," g "," b }'
}
snapshot() { # snapshot DISPLAY CAMERA FILE: prints the HTTP status
  curl_as "$1" -s -o "$3" -w '%{http_code}' --max-time 10 "$(url "/v1/cameras/$2/snapshot.jpg")"
}
[ "$(snapshot one "$cam_a" "$T/a.jpg")" = 200 ] || fail "snapshot of A failed: $(cat "$T/a.jpg")"
[ "$(colour "$T/a.jpg")" = red ] || fail "snapshot of A is $(colour "$T/a.jpg"), not red"
[ "$(snapshot one "$cam_b" "$T/b.jpg")" = 200 ] || fail "snapshot of B failed: $(cat "$T/b.jpg")"
[ "$(colour "$T/b.jpg")" = blue ] || fail "snapshot of B is $(colour "$T/b.jpg"), not blue"
ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$T/a.jpg" |
  grep -qx "mjpeg,640,360" || fail "the snapshot is not a 640x360 JPEG"
# Asked in turn, over several keyframes (the two cameras' keyframes have the
# same sequence numbers), each camera still shows its own picture.
for i in $(seq 1 10); do
  snapshot one "$cam_a" "$T/ta.jpg" >/dev/null
  snapshot one "$cam_b" "$T/tb.jpg" >/dev/null
  echo "$(colour "$T/ta.jpg") $(colour "$T/tb.jpg")"
done >"$T/turns.txt"
[ "$(sort -u "$T/turns.txt")" = "red blue" ] ||
  fail "snapshots asked in turn: $(sort "$T/turns.txt" | uniq -c | tr '\n' ' ')"

# --- LL-HLS: the same fragments as segments and parts -------------------------
log "hls"
hls() { curl_as one -sS --max-time 10 -o "$2" -w '%{http_code}' "$(url "/v1/cameras/$cam_a/hls/$1")"; }
mkdir "$T/hls"
[ "$(hls index.m3u8 "$T/hls/index.m3u8")" = 200 ] || fail "no playlist: $(cat "$T/hls/index.m3u8")"
grep -q '^#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES' "$T/hls/index.m3u8" || fail "no blocking reload"
grep -q '^#EXT-X-PART:.*INDEPENDENT=YES' "$T/hls/index.m3u8" || fail "no parts: $(cat "$T/hls/index.m3u8")"
init=$(sed -n 's/^#EXT-X-MAP:URI="\(init-[0-9]*\.mp4\)"$/\1/p' "$T/hls/index.m3u8")
[ -n "$init" ] || fail "no EXT-X-MAP: $(cat "$T/hls/index.m3u8")"
# Blocking reload: ask for a part that does not exist yet; it comes when made.
msn=$(sed -n 's/^#EXT-X-MEDIA-SEQUENCE:\([0-9]*\)$/\1/p' "$T/hls/index.m3u8")
segments=$(grep -c '^seg-' "$T/hls/index.m3u8" || true)
want=$((msn + segments + 1))
start=$(date +%s.%N)
curl_as one -sS --max-time 10 -o "$T/hls/blocked.m3u8" \
  "$(url "/v1/cameras/$cam_a/hls/index.m3u8?_HLS_msn=$want&_HLS_part=1")"
end=$(date +%s.%N)
python3 -c "import sys; sys.exit(0 if $end - $start > 0.3 else 1)" || fail "the blocking reload did not wait"
[ "$(awk '/^#EXT-X-MEDIA-SEQUENCE/ { split($0, m, ":"); n = m[2] } /^seg-/ { n++ } END { print n }' "$T/hls/blocked.m3u8")" -ge "$want" ] ||
  fail "blocking reload answered before segment $want: $(cat "$T/hls/blocked.m3u8")"
[ "$(hls "$init" "$T/hls/$init")" = 200 ] || fail "no init segment"
# Preload hint: the playlist ends with the next part, not listed yet. Right
# after a blocking reload for the first part of the next segment, that hint
# (the part being filled) is asked for at once: it is held until it is whole,
# it follows the last part listed (stamps), and it is what the playlist then
# lists under that name.
[ "$(hls "index.m3u8?_HLS_msn=$((want + 1))&_HLS_part=0" "$T/hls/hint.m3u8")" = 200 ] ||
  fail "no playlist: $(cat "$T/hls/hint.m3u8")"
hint=$(sed -n 's/^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="\(part-[0-9]*-[0-9]*\.m4s\)"$/\1/p' "$T/hls/hint.m3u8")
[ -n "$hint" ] || fail "no preload hint: $(cat "$T/hls/hint.m3u8")"
curl_as one -sS --max-time 10 -o "$T/hls/hinted.m4s" \
  -w '%{http_code} %{time_pretransfer} %{time_starttransfer}\n' \
  "$(url "/v1/cameras/$cam_a/hls/$hint")" >"$T/hls/hinted.status"
read -r code pre first <"$T/hls/hinted.status"
[ "$code" = 200 ] || fail "hinted part $hint: $code $(cat "$T/hls/hinted.m4s")"
log "the hinted part $hint was held $(python3 -c "print(round(($first - $pre) * 1000))") ms"
tail -n1 "$T/hls/hint.m3u8" | grep -q '^#EXT-X-PRELOAD-HINT:' || fail "the hint is not last"
! grep -q "URI=\"$hint\"" <(grep '^#EXT-X-PART:' "$T/hls/hint.m3u8") || fail "the hinted part $hint is listed already"
last_part=$(sed -n 's/^#EXT-X-PART:.*URI="\(part-[0-9]*-[0-9]*\.m4s\)".*$/\1/p' "$T/hls/hint.m3u8" | tail -n1)
[ "$(hls "$last_part" "$T/hls/last.m4s")" = 200 ] || fail "part $last_part: $(cat "$T/hls/last.m4s")"
(cd "$T/hls" && "$BIN_STAMPS" "$init" last.m4s hinted.m4s) >"$T/hls/hinted.txt"
awk -v id="$CAM_ID_a" '/^frame/ { split($3, s, "="); split($4, c, "=");
    if (s[2] != id) exit 1; if (n++ && c[2] != last + 1) exit 1; last = c[2] }' "$T/hls/hinted.txt" ||
  fail "the hinted part does not follow $last_part: $(cat "$T/hls/hinted.txt")"
[ "$(grep -c '^frame' "$T/hls/hinted.txt")" -gt "$(cd "$T/hls" && "$BIN_STAMPS" "$init" last.m4s | grep -c '^frame')" ] ||
  fail "the hinted part has no frames"
[ "$(hls index.m3u8 "$T/hls/after-hint.m3u8")" = 200 ] || fail "no playlist"
# Every playlist keeps the LL-HLS rules (the parts of the latest are
# fetched below).
for playlist in blocked hint after-hint; do
  hls_check --text-only one "$cam_a" "$T/hls/$playlist.m3u8"
done
grep '^#EXT-X-PART:' "$T/hls/after-hint.m3u8" | grep -q "URI=\"$hint\"" ||
  fail "the playlist does not list the hinted part: $(cat "$T/hls/after-hint.m3u8")"
[ "$(hls "$hint" "$T/hls/hinted-again.m4s")" = 200 ] && cmp -s "$T/hls/hinted.m4s" "$T/hls/hinted-again.m4s" ||
  fail "the hinted part changed once listed"
# Only the hinted part is waited for: one further ahead is a 404 at once.
far=${hint%.m4s}; far="${far%-*}-$((${far##*-} + 1000)).m4s"
[ "$(hls "$far" /dev/null)" = 404 ] || fail "a part far ahead was not a 404"
# The segments decode, and carry camera A's stamps in order, from a keyframe.
for name in $(grep '^seg-' "$T/hls/blocked.m3u8"); do
  [ "$(hls "$name" "$T/hls/$name")" = 200 ] || fail "segment $name: $(cat "$T/hls/$name")"
done
cp "$T/hls/blocked.m3u8" "$T/hls/local.m3u8"
sed -i '/^#EXT-X-PART:/d; /^#EXT-X-SERVER-CONTROL/d; /^#EXT-X-PART-INF/d' "$T/hls/local.m3u8"
echo '#EXT-X-ENDLIST' >>"$T/hls/local.m3u8"
ffprobe -v error -count_frames -select_streams v -show_entries stream=codec_name,nb_read_frames \
  -of csv=p=0 "$T/hls/local.m3u8" >"$T/hls/ffprobe.txt" 2>&1 || fail "ffprobe: $(cat "$T/hls/ffprobe.txt")"
grep -q '^h264,[1-9]' "$T/hls/ffprobe.txt" || fail "ffprobe of the HLS segments: $(cat "$T/hls/ffprobe.txt")"
(cd "$T/hls" && "$BIN_STAMPS" "$init" $(grep '^seg-' blocked.m3u8)) >"$T/hls/stamps.txt"
sed -n 2p "$T/hls/stamps.txt" | grep -q "^frame key=1 stamp=$CAM_ID_a " || fail "HLS does not start on a keyframe of A"
awk -v id="$CAM_ID_a" '/^frame/ { split($3, s, "="); split($4, c, "=");
    if (s[2] != id) exit 1; if (n++ && c[2] != last + 1) exit 1; last = c[2] }' "$T/hls/stamps.txt" ||
  fail "HLS segments: stamps out of order or of another camera"
# Names of another camera or another generation answer 404.
seg=$(grep -m1 '^seg-' "$T/hls/blocked.m3u8")
code=$(curl_as one -s -o /dev/null -w '%{http_code}' "$(url "/v1/cameras/$cam_b/hls/$seg")")
[ "$code" = 404 ] || fail "camera B answered $code for camera A's segment"
gen=${init#init-}; gen=${gen%.mp4}
code=$(curl_as one -s -o /dev/null -w '%{http_code}' "$(url "/v1/cameras/$cam_a/hls/seg-$((gen + 1))-${seg##*-}")")
[ "$code" = 404 ] || fail "another generation's segment name answered $code"
code=$(curl_as other -s -o /dev/null -w '%{http_code}' "$(url "/v1/cameras/$cam_a/hls/index.m3u8")")
[ "$code" = 404 ] || fail "display of Flat2 got $code for camera A's playlist"
# The latest playlist's parts hold what it says (a camera without audio).
[ "$(hls index.m3u8 "$T/hls/latest.m3u8")" = 200 ] || fail "no playlist"
hls_check one "$cam_a" "$T/hls/latest.m3u8"

# --- a stalled display does not slow another one -----------------------------
log "stalled display"
python3 - "$(cert_of one)" "$(key_of one)" "$STREAM_PORT" "/v1/cameras/$cam_c/live.mp4" \
  >"$T/stall.log" 2>&1 <<'PY' &
# Asks for the stream, then never reads: the gateway's queue for it fills.
import socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
raw = socket.create_connection(("127.0.0.1", int(sys.argv[3])))
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s = ctx.wrap_socket(raw)
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[4]).encode())
print("requested", flush=True)
time.sleep(60)
PY
stall_pid=$!
PIDS+=($stall_pid)
dropping() { [ "$(ctl --json camera stats "$cam_c" | json 'j["drops"]')" -gt 0 ]; }
wait_for 30 "the stalled display to overflow its queue" dropping
# Meanwhile another display receives every frame, at the camera's rate.
start=$(date +%s.%N)
frames_of one "$cam_c" 90 >"$T/beside-stall.txt"
end=$(date +%s.%N)
[ "$(grep -c '^frame' "$T/beside-stall.txt")" = 90 ] || fail "display beside a stalled one got $(grep -c '^frame' "$T/beside-stall.txt") frames"
awk '/^frame/ { split($4, c, "="); if (n++ && c[2] != last + 1) { print "gap at " c[2]; exit 1 } last = c[2] }' \
  "$T/beside-stall.txt" || fail "the display beside a stalled one lost frames"
fps=$(python3 -c "print(int(89 / ($end - $start - 0.0)))")
# 90 frames from the cached GOP on (at most one GOP of 30 comes at once).
[ "$fps" -ge 20 ] || fail "the display beside a stalled one got only $fps fps"
ctl camera stats "$cam_c" >"$T/stats.txt"
grep -q '^displays: [1-9]' "$T/stats.txt" || fail "stats show no display: $(cat "$T/stats.txt")"
wait_for 40 "the stalled display to be disconnected" grep -q "cannot keep up with camera $cam_c" "$T/hearthd.log"
kill "$stall_pid" 2>/dev/null || true

# --- hearthctl camera stats ---------------------------------------------------
ctl camera stats "$cam_a" >"$T/stats.txt"
for key in bitrate_kbps fps keyframe_interval_frames displays drops generation; do
  grep -q "^$key: " "$T/stats.txt" || fail "camera stats has no $key: $(cat "$T/stats.txt")"
done
awk -F': ' '$1 == "fps" && ($2 < 20 || $2 > 40) { exit 1 }' "$T/stats.txt" || fail "fps: $(cat "$T/stats.txt")"
awk -F': ' '$1 == "keyframe_interval_frames" && $2 != 30 { exit 1 }' "$T/stats.txt" || fail "keyframe interval: $(cat "$T/stats.txt")"
awk -F': ' '$1 == "bitrate_kbps" && ($2 < 100 || $2 > 12000) { exit 1 }' "$T/stats.txt" || fail "bitrate: $(cat "$T/stats.txt")"
code=0
ctl camera stats 00000000-0000-4000-8000-000000000000 >/dev/null 2>&1 || code=$?
[ $code -ne 0 ] || fail "stats of an unknown camera succeeded"

# --- both cameras restart at once: a new generation each ---------------------
log "restart"
gen_a=$(ctl --json camera stats "$cam_a" | json 'j["generation"]')
# A watcher that keeps (re)opening A's stream and both snapshots all along.
# Both cameras restart at once, so their new keyframes have the same
# generation and sequence numbers: only the camera id keeps their pictures
# apart.
(
  while [ ! -e "$T/stop-watch" ]; do
    frames_of one "$cam_a" 15 >>"$T/watch-a.txt" 2>/dev/null || true
    snapshot one "$cam_b" "$T/w.jpg" >/dev/null && colour "$T/w.jpg" >>"$T/watch-b.txt" || true
    snapshot one "$cam_a" "$T/v.jpg" >/dev/null && colour "$T/v.jpg" >>"$T/watch-a-pictures.txt" || true
  done
) &
watch_pid=$!
PIDS+=($watch_pid)
wait_for 20 "the watcher to see frames" grep -q "^frame" "$T/watch-a.txt"

old_a=$CAM_ID_a old_b=$CAM_ID_b
port_a=${CAM_URL_a#rtsp://127.0.0.1:}; port_a=${port_a%%/*}
port_b=${CAM_URL_b#rtsp://127.0.0.1:}; port_b=${port_b%%/*}
kill "$CAM_PID_a" "$CAM_PID_b"
wait "$CAM_PID_a" "$CAM_PID_b" 2>/dev/null || true
# Offline after it streamed: the same 503 as a camera that never streamed.
wait_for 20 "camera A to stop streaming" eval '! streaming "$cam_a"'
expect_unavailable "$cam_a" live.mp4
grep -q "offline\|no picture" "$T/unavailable.json" || fail "live.mp4 of an offline camera: $(cat "$T/unavailable.json")"
start_camera a --pattern green --port "$port_a"
start_camera b --pattern white --port "$port_b"
[ "$CAM_ID_a" != "$old_a" ] || fail "the restarted camera kept its stamp id"
new_gen() { [ "$(ctl --json camera stats "$1" | json 'j["generation"]')" -gt "$2" ] && streaming "$1"; }
wait_for 30 "camera A's new generation" new_gen "$cam_a" "$gen_a"
wait_for 30 "the watcher to see camera A's new stamps" grep -q "stamp=$CAM_ID_a" "$T/watch-a.txt"
wait_for 30 "the watcher to see camera B's new picture" grep -qx white "$T/watch-b.txt"
touch "$T/stop-watch"
wait "$watch_pid" 2>/dev/null || true

# Nothing of the old run after the first frame of the new one; and only A.
awk -v old="$old_a" -v new="$CAM_ID_a" '/^frame/ {
    split($3, s, "=");
    if (s[2] == new) seen = 1;
    else if (s[2] != old) { print "frame of " s[2]; exit 1 }
    else if (seen) { print "old frame after a new one"; exit 1 } }' "$T/watch-a.txt" ||
  fail "old generation served after the new one started"
# Each camera's pictures: its old colour, then its new one; never the other
# camera's, never the old colour after the new one.
pictures_ok() { # FILE OLD NEW
  awk -v old="$2" -v new="$3" '$0 == new { seen = 1; next }
       $0 == old && !seen { next }
       { print "picture " $0; exit 1 }' "$1"
}
pictures_ok "$T/watch-b.txt" blue white ||
  fail "a wrong picture of camera B: $(tr '\n' ' ' <"$T/watch-b.txt")"
pictures_ok "$T/watch-a-pictures.txt" red green ||
  fail "a wrong picture of camera A: $(tr '\n' ' ' <"$T/watch-a-pictures.txt")"
[ "$(snapshot one "$cam_a" "$T/a2.jpg")" = 200 ] || fail "snapshot of A after restart failed"
[ "$(colour "$T/a2.jpg")" = green ] || fail "snapshot of A after restart is $(colour "$T/a2.jpg")"
[ "$(snapshot one "$cam_b" "$T/b2.jpg")" = 200 ] || fail "snapshot of B after restart failed"
[ "$(colour "$T/b2.jpg")" = white ] || fail "snapshot of B after restart is $(colour "$T/b2.jpg")"
code=$(curl_as one -s -o /dev/null -w '%{http_code}' "$(url "/v1/cameras/$cam_a/hls/$seg")")
[ "$code" = 404 ] || fail "a segment of the old generation answered $code after the restart"
frames_of one "$cam_a" 5 >"$T/after.txt"
sed -n 2p "$T/after.txt" | grep -q "^frame key=1 stamp=$CAM_ID_a " || fail "after restart: $(head -2 "$T/after.txt")"
! grep -q "Egress mismatch" "$T/hearthd.log" || fail "the gateway logged an egress mismatch"

stop_gateway
log "ok"
