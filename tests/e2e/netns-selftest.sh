#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# netns.sh and fake-camera --announce, with real avahi-daemons:
# - one host, loopback only: a service it publishes is resolved in it;
# - two hosts on a LAN: a service published on one is resolved on the other
#   and its removal seen; a fake camera announced by mDNS shows its port and
#   TXT (defaults, overrides, raw bytes), is announced again after its
#   avahi-daemon restarts (alone, and with the system bus), follows its host
#   to a new address, loses a name collision gracefully, and is withdrawn
#   when it stops; an unplugged host is gone from the LAN.
# Times are logged: they are what other tests' deadlines rest on.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"

# tcp_ok NAME HOST PORT: a TCP connection from host NAME succeeds.
tcp_ok() {
  ns_run "$1" python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5).close()' "$2" "$3" 2>/dev/null
}
ms() { echo $(($(date +%s%N) / 1000000)); }
# timed SECONDS WHAT CMD...: wait_for that logs how long it took.
timed() {
  local start
  start=$(ms)
  wait_for "$@"
  log "$2: $(($(ms) - start)) ms"
}

# --- one host, loopback only --------------------------------------------------
start=$(ms)
ns_host solo
ns_avahi solo lo
log "avahi up on lo: $(($(ms) - start)) ms"
ns_bg solo avahi-publish-service "solo svc" _hearth-test._tcp 4242 k=v >"$T/pub-solo.log" 2>&1
timed 10 "loopback service resolved" ns_sees solo _hearth-test._tcp ';solo\\032svc;_hearth-test._tcp;local;[^;]*;127\.0\.0\.1;4242;"k=v"$'

# --- two hosts on a LAN --------------------------------------------------------
ns_lan
ns_host cam
ns_host tv
ns_attach cam 10.77.0.1/24
ns_attach tv 10.77.0.2/24
start=$(ms)
ns_avahi cam
ns_avahi tv
log "two avahi-daemons up on lan0: $(($(ms) - start)) ms"
[ "$(ns_ip cam)" = 10.77.0.1 ] || fail "ns_ip cam: $(ns_ip cam)"

ns_bg cam avahi-publish-service "lan svc" _hearth-test._tcp 4343 a=1 >"$T/pub-lan.log" 2>&1
pub=$NS_PID
timed 10 "service seen across the veth" ns_sees tv _hearth-test._tcp ';lan\\032svc;.*;10\.77\.0\.1;4343;"a=1"$'
# The other host's services are not on its own loopback daemon.
ns_lost solo _hearth-test._tcp 'lan' || fail "the loopback host saw the LAN"
kill "$pub"
timed 10 "removal seen across the veth" ns_lost tv _hearth-test._tcp ';lan\\032svc;'

# A fake camera on every address, announced with defaults plus overrides and
# raw bytes (a NUL and invalid UTF-8).
id=$(python3 -c 'import uuid; print(uuid.uuid4())')
ns_bg cam "$BIN_CAMERA" --address 0.0.0.0 --port 0 --stamp-id "$id" \
  --ready-file "$T/cam.ready" --announce "Porch cam" --mount /live \
  --txt model=Overridden --txt extra=1 --txt-hex 6869646465006eff >>"$T/camera-cam.log" 2>&1
campid=$NS_PID
wait_for 20 "camera ready" test -s "$T/cam.ready"
url=$(cut -d' ' -f1 "$T/cam.ready")
port=${url##*:}; port=${port%%/*}
[[ $url == rtsp://10.77.0.1:*/live ]] || fail "ready line for 0.0.0.0 names $url"
timed 10 "camera announced" ns_sees tv _rtsp._tcp ";Porch\\\\032cam;_rtsp._tcp;local;cam-$$\\.local;10\\.77\\.0\\.1;$port;"
line=$(ns_browse tv _rtsp._tcp | grep ';Porch\\032cam;')
log "$line"
for want in "\"id=$id\"" '"path=/live"' '"model=Overridden"' '"extra=1"' '"hidde\000n\255"'; do
  grep -qF -- "$want" <<<"$line" || fail "TXT lacks $want: $line"
done
grep -q 'Hearth fake camera' <<<"$line" && fail "--txt model= did not replace the default"
# The announced camera is a real camera there.
ns_run tv ffprobe -v error -rtsp_transport tcp -select_streams v -show_entries stream=codec_name \
  -of csv=p=0 -read_intervals %+#1 "rtsp://10.77.0.1:$port/live" >"$T/probe.log" 2>&1 ||
  fail "ffprobe across the LAN: $(cat "$T/probe.log")"

# avahi-daemon restarts: the camera announces itself again.
ns_avahi_stop cam
timed 10 "camera gone with its daemon" ns_lost tv _rtsp._tcp ';Porch\\032cam;'
ns_avahi cam
timed 15 "camera announced again" ns_sees tv _rtsp._tcp ";Porch\\\\032cam;.*;10\\.77\\.0\\.1;$port;"
# The system bus goes too: the camera waits for a bus, then for avahi.
ns_avahi_stop cam --bus
timed 10 "camera gone with the bus" ns_lost tv _rtsp._tcp ';Porch\\032cam;'
ns_avahi cam
timed 15 "camera announced after the bus came back" ns_sees tv _rtsp._tcp ";Porch\\\\032cam;.*;10\\.77\\.0\\.1;$port;"
grep -q "cannot reach avahi-daemon" "$T/camera-cam.log" || fail "the camera did not retry without a bus"

# The host moves (DHCP gives it another address): the record follows.
ns_addr_add cam 10.77.0.9/24
ns_addr_del cam 10.77.0.1/24
timed 15 "camera seen at its new address" ns_sees tv _rtsp._tcp ";Porch\\\\032cam;.*;10\\.77\\.0\\.9;$port;"

# A second camera on the other host with the same name takes another one.
ns_bg tv "$BIN_CAMERA" --address 0.0.0.0 --port 0 --ready-file "$T/cam2.ready" \
  --announce "Porch cam" >>"$T/camera-tv.log" 2>&1
wait_for 20 "second camera ready" test -s "$T/cam2.ready"
port2=$(cut -d' ' -f1 "$T/cam2.ready"); port2=${port2##*:}; port2=${port2%%/*}
timed 20 "collision resolved" ns_sees cam _rtsp._tcp ';Porch\\032cam\\032\\0352;.*;10\.77\.0\.2;'
ns_sees tv _rtsp._tcp ";Porch\\\\032cam;.*;10\\.77\\.0\\.9;$port;" || fail "the first camera lost its name"

# SIGTERM: withdrawn at once (a goodbye, not a cache expiry).
kill -TERM "$campid"
rc=0; wait "$campid" || rc=$?
[ $rc -eq 0 ] || fail "fake-camera exited $rc on SIGTERM"
grep -q 'withdrawn' "$T/camera-cam.log" || fail "the camera did not say it withdrew"
timed 5 "camera withdrawn" ns_lost tv _rtsp._tcp ';Porch\\032cam;'

# A host unplugged is gone from the LAN.
tcp_ok cam 10.77.0.2 "$port2" || fail "no TCP across the LAN"
ns_detach tv
! tcp_ok cam 10.77.0.2 "$port2" || fail "an unplugged host still answers"
log "ok"
