#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Two cameras of two households swap addresses (a power cut, the router
# forgot its DHCP leases): each is followed to its new address by its own
# evidence, neither is quarantined, and no display ever gets the other
# household's camera (invariants 1 and 5). Real avahi-daemons on a LAN of
# network namespaces (netns.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"

LAN=10.77.0
camera_field() { ctl --json camera list | json "[c['$2'] for c in j['cameras'] if c['id'] == '$1'][0]"; }
camera_is() { [ "$(camera_field "$1" "$2")" = "$3" ]; }
discovered_id() {
  ctl --json camera list --discovered | json "[c['id'] for c in j['cameras'] if c['name'] == '$1'][0]"
}
is_discovered() { discovered_id "$1" >/dev/null 2>&1; }
audit_count() { ctl --json audit | json "sum(e['kind'] == '$1' for e in j['events'])"; }
url_is() { camera_is "$1" url "rtsp://$2:8554/stream"; }

ns_lan
ns_host gw
ns_attach gw "$LAN.1/24"
ns_avahi gw
for h in north south; do ns_host "$h"; done
ns_attach north "$LAN.2/24"
ns_attach south "$LAN.3/24"
ns_avahi north
ns_avahi south
ns_gateway gw
ctl household add North >/dev/null
ctl household add South >/dev/null

ns_camera north N --announce "North cam"
ns_camera south S --announce "South cam"
wait_for 20 "both cameras to be discovered" eval 'is_discovered "North cam" && is_discovered "South cam"'
north=$(ctl camera adopt "$(discovered_id "North cam")" --household North 2>/dev/null)
south=$(ctl camera adopt "$(discovered_id "South cam")" --household South 2>/dev/null)
wait_for 30 "both cameras to stream" eval 'camera_is "$north" state streaming && camera_is "$south" state streaming'
for h in North South; do
  payload=$(ctl pair --household "$h" --print-payload)
  ns_display gw "$h" pair "$payload" --name "$h" >"$T/pair-$h.log" 2>&1 ||
    fail "pairing $h: $(cat "$T/pair-$h.log")"
done
ns_display gw South check "$south" --frames 10 --expect-stamp "$CAM_ID_S" --timeout 60 \
  >"$T/check-s0.log" || fail "South's display: $(cat "$T/check-s0.log")"

# North's display watches through the swap.
watch_start "$north" "$CAM_ID_N" ns_display gw North

# Power cut: both go down, come back with each other's address.
for c in N S; do
  pid_var=CAM_PID_$c
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" 2>/dev/null || true
done
ns_addr_add north "$LAN.13/24"
ns_addr_del north "$LAN.2/24"
ns_addr_add south "$LAN.2/24"
ns_addr_del south "$LAN.3/24"
ns_addr_add north "$LAN.3/24"
ns_addr_del north "$LAN.13/24"
ns_camera north N --announce "North cam"
ns_camera south S --announce "South cam"

wait_for 60 "North's camera to be followed to $LAN.3" url_is "$north" "$LAN.3"
wait_for 60 "South's camera to be followed to $LAN.2" url_is "$south" "$LAN.2"
wait_for 60 "both to stream again" eval 'camera_is "$north" state streaming && camera_is "$south" state streaming'
[ "$(audit_count camera-quarantine)" = 0 ] || fail "a camera was quarantined: $(ctl audit)"
[ "$(audit_count camera-follow)" = 2 ] || fail "expected two follows: $(ctl audit)"
ns_display gw North check "$north" --frames 10 --expect-stamp "$CAM_ID_N" --timeout 60 \
  >"$T/check-n.log" || fail "North's display after the swap: $(cat "$T/check-n.log")"
ns_display gw South check "$south" --frames 10 --expect-stamp "$CAM_ID_S" --timeout 60 \
  >"$T/check-s.log" || fail "South's display after the swap: $(cat "$T/check-s.log")"
watch_stop "$CAM_ID_S"

stop_gateway
