#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Invariant 7, watched from the outside: while hearthd starts, adds a camera,
# pairs a display and streams to it, every connection it opens (traced with
# strace) goes to the adopted camera's local address or to a UNIX socket, and
# nothing else. Then a camera URL naming a public address is refused before
# anything is dialled, and so is the target of a camera's RTSP redirect.
source "$(dirname "$0")/lib.sh"

start_camera door
camera_port=$(sed -n 's|^rtsp://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' <<<"$CAM_URL_door")
[ -n "$camera_port" ] || fail "no camera port in $CAM_URL_door"

# start_traced TRACE ARGS...: hearthd under strace, recording every connect()
# of every thread in $T/TRACE. LeakSanitizer cannot run under ptrace; the
# other tests check hearthd's leaks. As start_gateway: no discovery in this
# namespace, and criticals checked when it stops (GStreamer's own aside).
start_traced() {
  local trace=$1
  shift
  : >"$T/hearthd.log"
  root_gateway_args "$@"
  ASAN_OPTIONS=detect_leaks=0 env -u G_DEBUG strace -f -q -e trace=connect -o "$T/$trace" \
    "$BIN_HEARTHD" --state-dir "$T/state" "${GATEWAY_ARGS[@]}" >>"$T/hearthd.log" 2>&1 &
  STRACE_PID=$!
  PIDS+=($STRACE_PID)
  wait_for 60 "hearthd to answer" ctl status
  GATEWAY_PID=$(pgrep -P "$STRACE_PID" -x hearthd)
  # A failing test ends hearthd too, not only strace (which would detach).
  PIDS+=($GATEWAY_PID)
}

# stop_traced TRACE: hearthd is stopped and must exit 0; strace ends with it.
stop_traced() {
  kill -TERM "$GATEWAY_PID"
  wait "$STRACE_PID" || fail "hearthd did not exit cleanly under strace"
  grep -q "+++ exited with 0 +++" "$T/$1" || fail "hearthd did not exit 0"
  check_gateway_log
}

start_traced connect.trace --listen 127.0.0.1:0 --pairing-listen 127.0.0.1:0
STREAM_PORT=$(ctl --json status | json 'j["stream_port"]')

ctl household add Home
camera_id=$(ctl camera add --household Home --name Door "$CAM_URL_door")
rc=0; ctl camera add --household Home --name Far rtsp://93.184.216.34/stream 2>/dev/null || rc=$?
[ $rc -ne 0 ] || fail "a camera on a public address was accepted"
pair_display tv Home
display tv check "$camera_id" --frames 30 --expect-stamp "$CAM_ID_door" --timeout 60 >/dev/null ||
  fail "the display did not receive the camera"

stop_traced connect.trace
# Every inet connect() hearthd made went to the camera, on loopback.
grep -c 'connect(' "$T/connect.trace" >/dev/null || fail "strace recorded nothing"
inet=$(grep 'connect(' "$T/connect.trace" | grep -E 'AF_INET6?' || true)
[ -n "$inet" ] || fail "hearthd never connected to its camera"
others=$(grep -vE "sin_port=htons\\($camera_port\\).*inet_addr\\(\"127\\.0\\.0\\.1\"\\)" <<<"$inet" || true)
[ -z "$others" ] || fail "hearthd connected somewhere else than its camera: $others"
log "$(wc -l <<<"$inet") inet connections, all to the camera at 127.0.0.1:$camera_port"

# Restarted with local networks that no longer hold the camera's address, it
# is not dialled at all: listed with why, logged once, and no connect().
start_traced narrowed.trace --listen 0.0.0.0:0 --pairing-listen 0.0.0.0:0 \
  --local-networks 192.168.0.0/16
# Settled: streaming (dialled) or refused; either shows within the backoff.
settled() {
  ctl camera list >"$T/list.txt" &&
    grep -qE "streaming|not a local address under local-networks" "$T/list.txt"
}
wait_for 60 "the camera to stream or be refused" settled
grep -q "not a local address under local-networks" "$T/list.txt" ||
  fail "camera list does not say why the camera is not dialled: $(cat "$T/list.txt")"
[ "$(grep -c "Camera $camera_id .*not connected: not a local address" "$T/hearthd.log")" -eq 1 ] ||
  fail "not logged once: $(cat "$T/hearthd.log")"
stop_traced narrowed.trace
dialled=$(grep 'connect(' "$T/narrowed.trace" | grep -E "AF_INET6?.*htons\\($camera_port\\)" || true)
[ -z "$dialled" ] || fail "hearthd dialled the camera outside local-networks: $dialled"

# A camera that answers DESCRIBE with a redirect (RTSP 302) to another
# address: the target is checked before it is dialled, like every connection
# hearthd opens. Only 127.0.0.1 is local here, so the target on 127.0.0.2 is
# "outside": no connect() goes there, and the camera is refused with why.
start_camera elsewhere --address 127.0.0.2
elsewhere_port=$(sed -n 's|^rtsp://127\.0\.0\.2:\([0-9]*\)/.*|\1|p' <<<"$CAM_URL_elsewhere")
[ -n "$elsewhere_port" ] || fail "no camera port in $CAM_URL_elsewhere"
start_camera bouncer --redirect-to "$CAM_URL_elsewhere"
start_traced redirect.trace --listen 127.0.0.1:0 --pairing-listen 127.0.0.1:0 \
  --local-networks 127.0.0.1/32
bouncer_id=$(ctl camera add --household Home --name Bouncer "$CAM_URL_bouncer")
redirect_refused() {
  ctl camera list >"$T/list.txt" && grep -q "redirected its stream" "$T/list.txt"
}
wait_for 60 "the redirecting camera to be refused" redirect_refused
grep -q "refused to connect to 127.0.0.2: not a local address" "$T/hearthd.log" ||
  fail "the egress gate did not say what it refused: $(cat "$T/hearthd.log")"
stop_traced redirect.trace
bouncer_port=$(sed -n 's|^rtsp://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' <<<"$CAM_URL_bouncer")
grep -qE "connect\\(.*htons\\($bouncer_port\\).*inet_addr\\(\"127\\.0\\.0\\.1\"\\)" "$T/redirect.trace" ||
  fail "hearthd never dialled the redirecting camera"
dialled=$(grep 'connect(' "$T/redirect.trace" | grep -E '127\.0\.0\.2|htons\('"$elsewhere_port"'\)' || true)
[ -z "$dialled" ] || fail "hearthd followed the redirect outside local-networks: $dialled"
log "ok"
