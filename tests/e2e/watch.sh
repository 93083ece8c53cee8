#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The walking skeleton end to end: a fake RTSP camera → hearthd → hearthctl
# pair → hearth-display pair → hearth-display check receives 60 frames, all
# stamped by that camera; ffprobe reads live.mp4 with the display's
# certificate; keys and state are private.
source "$(dirname "$0")/lib.sh"

start_camera door
start_gateway

ctl household add Home
camera_id=$(ctl camera add --household Home --name Door "$CAM_URL_door")
[[ $camera_id =~ ^[0-9a-f-]{36}$ ]] || fail "camera add printed “$camera_id”"
wait_for 30 "camera to stream" sh -c "'$BIN_CTL' --state-dir '$T/state' camera list | grep -q streaming"

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
grep -qx "ok" "$T/check.log" || fail "check did not say ok"

# A real player reads the live stream with the display's certificate.
ffprobe -v error -cert_file "$(cert_of living)" -key_file "$(key_of living)" \
  -ca_file "$(gateway_cert)" -tls_verify 1 -rw_timeout 20000000 \
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
