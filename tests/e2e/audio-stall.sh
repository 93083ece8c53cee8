#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A camera whose AAC audio fails still streams its video. mp4mux waits for
# every track, so audio that stops (or never comes though the SDP announces
# it) would stall the video too: the gateway sees video reach the muxer while
# nothing leaves it, restarts the camera without audio, and says so in its
# stats and log. Two fake cameras: one whose audio stops after 2 s, one that
# never sends the audio it announces.
source "$(dirname "$0")/lib.sh"

start_camera stops --audio aac --audio-stop-after 2 --width 320 --height 240
start_camera mute --audio aac --audio-stop-after 0 --width 320 --height 240
start_gateway

ctl household add Home
cam=$(ctl camera add --household Home --name Stops "$CAM_URL_stops")
cam_mute=$(ctl camera add --household Home --name Mute "$CAM_URL_mute")
pair_display tv Home

# Streaming, and the audio ignored because it stopped: the second run's.
video_only() {
  ctl --json camera stats "$1" >"$T/stats-$1.json" &&
    [ "$(json 'j["state"]' <"$T/stats-$1.json")" = streaming ] &&
    json 'j["audio_ignored"]' <"$T/stats-$1.json" | grep -q "AAC audio stopped coming"
}
log "audio that stops"
wait_for 40 "the camera whose audio stops to stream video only" video_only "$cam"
[ "$(json 'j["audio"]' <"$T/stats-$cam.json")" = none ] || fail "stats: $(cat "$T/stats-$cam.json")"
grep -q "Camera $cam: audio ignored: AAC audio stopped coming" "$T/hearthd.log" ||
  fail "the log does not say why the audio was dropped"
log "audio that never comes"
wait_for 40 "the camera that sends no audio to stream video only" video_only "$cam_mute"

for id in "$cam" "$cam_mute"; do
  stamp=$CAM_ID_stops
  [ "$id" = "$cam" ] || stamp=$CAM_ID_mute
  expect_check tv "$id" "$stamp" 60
  ffprobe_as tv -show_entries stream=codec_type,codec_name -of csv=p=0 -read_intervals %+#5 \
    "$(url "/v1/cameras/$id/live.mp4")" >"$T/ffprobe-$id.log" 2>&1 ||
    fail "ffprobe failed: $(cat "$T/ffprobe-$id.log")"
  [ "$(cat "$T/ffprobe-$id.log")" = "h264,video" ] || fail "streams: $(cat "$T/ffprobe-$id.log")"
done

stop_gateway
log "ok"
