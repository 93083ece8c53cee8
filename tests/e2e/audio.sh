#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# AAC audio passed through end to end: a fake camera sending H.264 and AAC
# (RTP MPEG4-GENERIC) → hearthd (rtpmp4gdepay ! aacparse into the same
# mp4mux, never transcoded) → live.mp4 holds an H.264 and an AAC track that
# ffprobe sees and ffmpeg decodes without a word; its first fragment is still
# a stamped keyframe; the LL-HLS init and parts carry the audio too, each
# part's audio in time with its video, parts last what the playlist says
# (no audio-only parts); the display's check reads the video's
# stamps in order; snapshot.jpg works; camera stats say aac. An MP4A-LATM
# camera passes through too. A camera sending Opus streams its video only,
# and its stats and the log say the audio was ignored and why (G.711 is
# transcoded: e2e-audio-g711).
# A new picture size mid-stream brings a new generation, audio and all,
# whose timeline starts at 0 again (audio and video together), and ffmpeg
# -t 3 on live.mp4 ends by itself.
source "$(dirname "$0")/lib.sh"

BIN_STAMPS=$HEARTH_BUILD_DIR/tests/tools/fmp4-stamps

start_camera aac --audio aac --width 320 --height 240 --resize 480x272
start_camera latm --audio aac-latm --width 320 --height 240
start_camera opus --audio opus --width 320 --height 240
start_gateway

ctl household add Home
cam=$(ctl camera add --household Home --name Aac "$CAM_URL_aac")
cam_latm=$(ctl camera add --household Home --name Latm "$CAM_URL_latm")
cam_opus=$(ctl camera add --household Home --name Opus "$CAM_URL_opus")
pair_display tv Home
streaming() { [ "$(ctl --json camera stats "$1" | json 'j["state"]')" = streaming ]; }
wait_for 30 "the AAC camera to stream" streaming "$cam"
wait_for 30 "the LATM camera to stream" streaming "$cam_latm"
wait_for 30 "the Opus camera to stream" streaming "$cam_opus"


# --- camera stats: which audio passes through, which was ignored and why ----
log "stats"
ctl --json camera stats "$cam" >"$T/stats.json"
[ "$(json 'j["audio"]' <"$T/stats.json")" = aac ] || fail "AAC camera stats: $(cat "$T/stats.json")"
[ "$(json 'j["audio_ignored"]' <"$T/stats.json")" = None ] || fail "AAC camera stats: $(cat "$T/stats.json")"
[ "$(json 'j["codec"]' <"$T/stats.json")" = h264 ] || fail "AAC camera stats: $(cat "$T/stats.json")"
ctl camera stats "$cam" >"$T/stats.txt"
grep -qx "audio: aac" "$T/stats.txt" || fail "hearthctl camera stats does not say aac: $(cat "$T/stats.txt")"
ctl --json camera stats "$cam_latm" >"$T/stats-latm.json"
[ "$(json 'j["audio"]' <"$T/stats-latm.json")" = aac ] || fail "LATM camera stats: $(cat "$T/stats-latm.json")"
[ "$(json 'j["audio_source"]' <"$T/stats.json")" = aac ] || fail "AAC camera stats: $(cat "$T/stats.json")"
ctl --json camera stats "$cam_opus" >"$T/stats-opus.json"
[ "$(json 'j["audio"]' <"$T/stats-opus.json")" = none ] || fail "Opus camera stats: $(cat "$T/stats-opus.json")"
json 'j["audio_ignored"]' <"$T/stats-opus.json" | grep -q "OPUS audio: not supported" ||
  fail "Opus camera stats do not say why its audio was ignored: $(cat "$T/stats-opus.json")"
grep -q "Camera $cam_opus: audio ignored: OPUS audio: not supported" "$T/hearthd.log" ||
  fail "the log does not say the Opus audio was ignored"
ctl camera stats "$cam_opus" >"$T/stats-opus.txt"
grep -qx "audio: none" "$T/stats-opus.txt" && grep -q "^audio_ignored: OPUS audio: not supported" "$T/stats-opus.txt" ||
  fail "hearthctl camera stats of the Opus camera: $(cat "$T/stats-opus.txt")"
sed -n 's/^audio/#   audio/p' "$T/stats-opus.txt"
# The displays' camera list says so too.
curl_as tv --max-time 10 "$(url /v1/cameras)" >"$T/cameras.json"
audio_of() { json "[c for c in j['cameras'] if c['id'] == '$1'][0]['audio']" <"$T/cameras.json"; }
[ "$(audio_of "$cam")" = aac ] && [ "$(audio_of "$cam_opus")" = none ] ||
  fail "camera list: $(cat "$T/cameras.json")"
audio_counted() { [ "$(ctl --json camera stats "$cam" | json 'j["audio_fragments"]')" -gt 0 ]; }
wait_for 10 "audio fragments in the AAC camera's stats" audio_counted

# --- the display's check: the video's stamps, in order, audio beside them ---
log "check"
expect_check tv "$cam" "$CAM_ID_aac" 90

# --- the raw fMP4: init, a stamped keyframe, then frames and audio ---------
log "first bytes"
expect_first_bytes tv "$cam" "$CAM_ID_aac" 40
# 40 frames at 30 fps are 1.3 s: about 57 AAC frames at 44.1 kHz.
audio=$(grep -cx audio "$T/first-$cam.txt" || true)
[ "$audio" -ge 30 ] || fail "only $audio audio fragments beside 40 frames"
log "40 frames came with $audio audio fragments"

# --- a real player: an H.264 and an AAC track, both decode cleanly ----------
log "ffprobe"
ffprobe_as tv -show_entries stream=codec_type,codec_name \
  -of csv=p=0 -read_intervals %+#5 "$(url "/v1/cameras/$cam/live.mp4")" \
  >"$T/ffprobe.log" 2>"$T/ffprobe.err" || fail "ffprobe failed: $(cat "$T/ffprobe.err")"
grep -qx "h264,video" "$T/ffprobe.log" || fail "ffprobe saw no H.264 track: $(cat "$T/ffprobe.log")"
grep -qx "aac,audio" "$T/ffprobe.log" || fail "ffprobe saw no AAC track: $(cat "$T/ffprobe.log")"
# Three seconds of the stream, both tracks decoded: not one word from
# ffmpeg (a decoder would say "[aac @ …] …" or "[h264 @ …] …"). The decoded
# frames keep the stream's own time base (-enc_time_base -1): in ffmpeg's
# default, 1/fps, a frame that came a few ms early under load (the camera's
# jitter, as rtspsrc times it) rounds onto its neighbour's tick and the null
# muxer says "non monotonically increasing dts", a complaint about its own
# rounding, not about the stream; a DTS the stream really repeated is still
# said.
ffmpeg -nostdin -v error -cert_file "$(cert_of tv)" -key_file "$(key_of tv)" \
  -ca_file "$(gateway_cert)" -tls_verify 1 -rw_timeout 20000000 \
  -i "$(url "/v1/cameras/$cam/live.mp4")" -t 3 -map 0:v -map 0:a -enc_time_base -1 \
  -f null - >"$T/decode.log" 2>&1 ||
  fail "ffmpeg could not decode: $(cat "$T/decode.log")"
[ ! -s "$T/decode.log" ] || fail "ffmpeg complained: $(cat "$T/decode.log")"
ffprobe_as tv -select_streams a -count_frames \
  -show_entries stream=nb_read_frames -of csv=p=0 -read_intervals %+#60 \
  "$(url "/v1/cameras/$cam/live.mp4")" >"$T/audio-frames.log" 2>&1 ||
  fail "ffprobe could not decode the audio: $(cat "$T/audio-frames.log")"
[ "$(cat "$T/audio-frames.log")" -ge 60 ] || fail "ffprobe decoded $(cat "$T/audio-frames.log") audio frames"
# The LATM camera's audio too.
ffprobe_as tv -show_entries stream=codec_type,codec_name \
  -of csv=p=0 -read_intervals %+#5 "$(url "/v1/cameras/$cam_latm/live.mp4")" \
  >"$T/ffprobe-latm.log" 2>&1 || fail "ffprobe (LATM) failed: $(cat "$T/ffprobe-latm.log")"
grep -qx "aac,audio" "$T/ffprobe-latm.log" || fail "ffprobe saw no AAC track (LATM): $(cat "$T/ffprobe-latm.log")"

# --- LL-HLS: the init and the parts carry the audio; parts are 10 frames ----
log "hls"
hls() { hls_get tv "$cam" "$@"; }
# Up to the second part of the segment after the next: its first part is
# whole.
hls_wait_playlist tv "$cam" 1 1
init=$HLS_INIT
# A segment's first part starts on its keyframe and holds as many video
# frames as its duration says (30 fps: 10 in 0.333 s, the part target),
# whatever audio came between them.
grep -qx '#EXT-X-PART-INF:PART-TARGET=0.333' "$T/hls/index.m3u8" ||
  fail "the part target is not 10 frames: $(cat "$T/hls/index.m3u8")"
sed -n 's/^#EXT-X-PART:DURATION=\([0-9.]*\),URI="\(part-[0-9-]*\.m4s\)",INDEPENDENT=YES$/\1 \2/p' \
  "$T/hls/index.m3u8" | tail -n 1 >"$T/hls/independent.txt"
read -r duration part <"$T/hls/independent.txt" || fail "no independent part: $(cat "$T/hls/index.m3u8")"
[ "$(hls "$part" "$T/hls/$part")" = 200 ] || fail "part $part: $(cat "$T/hls/$part")"
cat "$T/hls/$init" "$T/hls/$part" >"$T/hls/part.mp4"
ffprobe -v error -show_entries stream=codec_type,codec_name -of csv=p=0 \
  "$T/hls/part.mp4" >"$T/hls/ffprobe.txt" 2>&1 || fail "ffprobe of init+part: $(cat "$T/hls/ffprobe.txt")"
grep -qx "h264,video" "$T/hls/ffprobe.txt" && grep -qx "aac,audio" "$T/hls/ffprobe.txt" ||
  fail "init+part streams: $(cat "$T/hls/ffprobe.txt")"
ffmpeg -nostdin -v error -i "$T/hls/part.mp4" -f null - >"$T/hls/decode.txt" 2>&1 ||
  fail "ffmpeg could not decode init+part: $(cat "$T/hls/decode.txt")"
[ ! -s "$T/hls/decode.txt" ] || fail "ffmpeg complained about init+part: $(cat "$T/hls/decode.txt")"
"$BIN_STAMPS" "$T/hls/$init" "$T/hls/$part" >"$T/hls/stamps.txt"
frames=$(python3 -c "print(round(float('$duration') * 30))")
[ "$frames" -ge 1 ] && [ "$frames" -le 10 ] &&
  [ "$(grep -c '^frame' "$T/hls/stamps.txt")" = "$frames" ] ||
  fail "the part of $duration s holds not $frames frames: $(cat "$T/hls/stamps.txt")"
grep -qx audio "$T/hls/stamps.txt" || fail "the part holds no audio: $(cat "$T/hls/stamps.txt")"
sed -n 2p "$T/hls/stamps.txt" | grep -q "^frame key=1 stamp=$CAM_ID_aac " ||
  fail "the part does not start on a stamped keyframe: $(head -3 "$T/hls/stamps.txt")"

# --- snapshot: the video's keyframe, audio or not ----------------------------
log "snapshot"
expect_snapshot tv "$cam" 320x240

# --- the Opus camera: video as before, no audio track ------------------------
log "opus"
expect_check tv "$cam_opus" "$CAM_ID_opus" 30
ffprobe_as tv -show_entries stream=codec_type,codec_name \
  -of csv=p=0 -read_intervals %+#5 "$(url "/v1/cameras/$cam_opus/live.mp4")" \
  >"$T/ffprobe-opus.log" 2>&1 || fail "ffprobe (Opus) failed: $(cat "$T/ffprobe-opus.log")"
[ "$(cat "$T/ffprobe-opus.log")" = "h264,video" ] || fail "Opus camera's streams: $(cat "$T/ffprobe-opus.log")"

# --- a new picture size mid-stream: a new generation, with its audio ------
# (mp4mux cannot be swapped with the audio held: a new RTSP session instead.)
log "resize"
stats_of() { ctl --json camera stats "$cam" | json "j[\"$1\"]"; }
gen_before=$(stats_of generation)
kill -USR1 "$CAM_PID_aac"
resized() {
  [ "$(stats_of generation)" != "$gen_before" ] && [ "$(stats_of state)" = streaming ] &&
    [ "$(stats_of audio)" = aac ] &&
    curl_as tv --max-time 10 "$(url /v1/cameras)" |
      json "[c for c in j['cameras'] if c['id'] == '$cam'][0]['width']" | grep -qx 480
}
wait_for 30 "the resized camera to stream again with audio" resized
ffprobe_as tv -show_entries stream=codec_name,width,height -of csv=p=0 -read_intervals %+#5 \
  "$(url "/v1/cameras/$cam/live.mp4")" >"$T/ffprobe-resized.log" 2>&1 ||
  fail "ffprobe (resized) failed: $(cat "$T/ffprobe-resized.log")"
grep -qx "h264,480,272" "$T/ffprobe-resized.log" && grep -qx "aac" "$T/ffprobe-resized.log" ||
  fail "resized streams: $(cat "$T/ffprobe-resized.log")"

# --- each generation's timeline starts at 0, audio and video together -------
# The camera has been sending since the test began; the resized generation
# is a few seconds old. A late joiner's first frame is the last keyframe, and
# its time is that keyframe's time since the generation began (from the
# generation's frame count, at 30 fps, keyframes every 30 frames), not the
# camera's: the audio begins with it.
log "timeline"
frames_at_least() { [ "$(stats_of frames)" -ge "$1" ]; }
wait_for 30 "the new generation to reach 60 frames" frames_at_least 60
before=$(stats_of frames)
ffprobe_as tv -show_entries packet=codec_type,pts_time -of csv=p=0 -read_intervals %+#20 \
  "$(url "/v1/cameras/$cam/live.mp4")" >"$T/packets.csv" 2>"$T/packets.err" ||
  fail "ffprobe -show_packets failed: $(cat "$T/packets.err")"
after=$(stats_of frames)
python3 - "$T/packets.csv" "$before" "$after" "$SECONDS" <<'PY' || fail "the live.mp4 timeline: $(head -5 "$T/packets.csv")"
import sys
packets = [line.split(",") for line in open(sys.argv[1]).read().split()]
video = [float(t) for kind, t in packets if kind == "video"]
audio = [float(t) for kind, t in packets if kind == "audio"]
before, after, running = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
low, high = (before - 30) / 30 - 0.2, after / 30 + 0.2
print(f"# first video {video[0]:.3f} s, audio {audio[0]:.3f} s; generation at frames "
      f"{before}-{after}; the camera has been sending for about {running} s")
assert low <= video[0] <= high, f"first video pts {video[0]} not in [{low:.2f}, {high:.2f}]"
assert abs(audio[0] - video[0]) < 0.1, f"audio starts at {audio[0]}, video at {video[0]}"
PY
# ffmpeg -t 3 as an input option: three seconds of the stream, then it exits
# by itself.
start=$SECONDS
timeout 60 ffmpeg -nostdin -v error -cert_file "$(cert_of tv)" -key_file "$(key_of tv)" \
  -ca_file "$(gateway_cert)" -tls_verify 1 -rw_timeout 20000000 -t 3 \
  -i "$(url "/v1/cameras/$cam/live.mp4")" -map 0:v -map 0:a -enc_time_base -1 -f null - \
  >"$T/t3.log" 2>&1 ||
  fail "ffmpeg -t 3 -i live.mp4 did not end by itself (status $?): $(cat "$T/t3.log")"
log "ffmpeg -t 3 ended after $((SECONDS - start)) s"

if grep -q "is offline" "$T/hearthd.log"; then
  log "note: an ingest restarted during the test:"
  grep "is offline" "$T/hearthd.log" | sed 's/^/#   /'
fi
stop_gateway
log "ok"
