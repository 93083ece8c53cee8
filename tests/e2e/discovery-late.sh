#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway without an avahi-daemon, and the daemon coming and going (issue
# 3), on one host (a namespace with only loopback, its own D-Bus and Avahi):
#
#   hearthd starts with no system bus at all: one clear warning, status says
#   so, a manually added camera streams;
#   an avahi-daemon appears later: discovery starts by itself, a camera
#   announced on the host is discovered, adopted by itself ([discovery]
#   auto-adopt, the household named in another case) and watched, under its
#   instance name numbered past a camera that has it already;
#   the daemon stops and comes back: warned again, ingest goes on, the camera
#   is found again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"

discovery_is() { [ "$(ctl --json status | json 'j["discovery"]')" = "$1" ]; }
discovered_field() {
  ctl --json camera list --discovered |
    json "[c['$2'] for c in j['cameras'] if c['name'] == '$1'][0]"
}
is_discovered() {
  ctl --json camera list --discovered |
    json "any(c['name'] == '$1' for c in j['cameras'])" | grep -qx True
}
camera_is() {
  [ "$(ctl --json camera list | json "[c['$2'] for c in j['cameras'] if c['id'] == '$1'][0]")" = "$3" ]
}
warnings() { grep -c "mDNS is not available" "$T/hearthd.log" || true; }

ns_host solo
# New cameras join Home by themselves ([discovery] auto-adopt; names of
# households ignore case).
printf '[discovery]\nauto-adopt = home\n' >"$T/hearth.conf"
ns_gateway solo --config "$T/hearth.conf" --listen 127.0.0.1:0 --pairing-listen 127.0.0.1:0
wait_for 10 "the warning that mDNS is not available" grep -q "mDNS is not available" "$T/hearthd.log"
[ "$(warnings)" = 1 ] || fail "the warning was repeated: $(warnings) times"
discovery_is "no avahi-daemon" || fail "status does not say discovery is off"
ctl household add Home >/dev/null

RTSP_PORT=8554 ns_camera solo M
# It has the name the late camera announces, in another case.
manual=$(ctl camera add --household Home --name "late CAM" "rtsp://127.0.0.1:8554/stream" 2>/dev/null)
wait_for 30 "the manual camera to stream without mDNS" camera_is "$manual" state streaming
[ "$(warnings)" = 1 ] || fail "the warning was repeated while retrying: $(warnings) times"

# The daemon appears: hearthd notices by itself (it retries every few seconds).
ns_avahi solo lo
wait_for 20 "discovery to start once avahi-daemon runs" discovery_is running
grep -q "mDNS is available again" "$T/hearthd.log" || fail "no log line when mDNS came"
RTSP_PORT=8555 ns_camera solo L --announce "Late cam"
wait_for 10 "the announced camera to be discovered" is_discovered "Late cam"
[ "$(discovered_field "Late cam" address)" = "127.0.0.1:8555" ] ||
  fail "discovered at $(discovered_field "Late cam" address)"
wait_for 10 "the camera to be adopted into Home by itself" \
  eval '[ "$(discovered_field "Late cam" state)" = adopted ]'
late=$(discovered_field "Late cam" camera)
camera_is "$late" household Home || fail "auto-adopted into another household"
wait_for 30 "the adopted camera to stream" camera_is "$late" state streaming
camera_is "$late" name "Late cam (2)" ||
  fail "the default name is not the instance name numbered past the manual camera's"

payload=$(ctl pair --household Home --print-payload)
ns_display solo tv pair "$payload" --name tv >"$T/pair.log" 2>&1 || fail "pairing: $(cat "$T/pair.log")"
ns_display solo tv check "$late" --frames 20 --expect-stamp "$CAM_ID_L" --timeout 60 >"$T/check.log" ||
  fail "no frames of the adopted camera: $(cat "$T/check.log")"

# The daemon goes away and comes back.
ns_avahi_stop solo
wait_for 20 "the warning that mDNS went away" eval '[ "$(warnings)" = 2 ]'
wait_for 10 "status to say so" discovery_is "no avahi-daemon"
camera_is "$manual" state streaming || fail "the manual camera stopped with avahi"
camera_is "$late" state streaming || fail "the adopted camera stopped with avahi"
ns_avahi solo lo
wait_for 20 "discovery to start again" discovery_is running
wait_for 20 "the camera to be found again" is_discovered "Late cam"
[ "$(discovered_field "Late cam" state)" = adopted ] || fail "not recognised as adopted"
camera_is "$late" announced True || fail "not shown as announced"
[ "$(ctl --json camera list | json 'len(j["cameras"])')" = 2 ] || fail "a camera was duplicated"

stop_gateway
