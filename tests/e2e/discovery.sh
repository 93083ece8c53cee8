#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Discovery across a real network (issue 3; invariants 5 and 7): a LAN of
# network namespaces joined by a bridge, each host with its own dbus-daemon
# and avahi-daemon, hearthd in one, fake cameras in others.
#
#   a camera announced by mDNS is listed as discovered within 2 s of its
#   announcement, adopted with no URL typed, and its stamped frames reach a
#   paired display;
#   it moves to a new address: followed, same camera id, no re-adoption;
#   its address is handed to another device (other MAC, other TXT id, same
#   instance name): quarantined, and no frame of the new device reaches a
#   display; adopting it again is the admin's call;
#   its announcement is withdrawn: noticed;
#   services pointing outside the LAN, with huge or malformed TXT records:
#   ignored with a log line, nothing crashes, nothing is dialled.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"

LAN=10.77.0
RTSP_PORT=8554  # every camera host has its own port space

discovered() { ctl --json camera list --discovered; }
# discovered_field NAME FIELD: FIELD of the discovered service called NAME.
discovered_field() {
  discovered | json "[c['$2'] for c in j['cameras'] if c['name'] == '$1'][0]"
}
is_discovered() { discovered | json "any(c['name'] == '$1' for c in j['cameras'])" | grep -qx True; }
not_discovered() { discovered | json "any(c['name'] == '$1' for c in j['cameras'])" | grep -qx False; }
camera_field() { ctl --json camera list | json "[c['$2'] for c in j['cameras'] if c['id'] == '$1'][0]"; }
camera_is() { [ "$(camera_field "$1" "$2")" = "$3" ]; }
audit_has() { ctl --json audit | json "any(e['kind'] == '$1' for e in j['events'])" | grep -qx True; }
mac_of() { ns_run "$1" cat /sys/class/net/lan0/address; }

ns_lan
ns_host gw
ns_attach gw "$LAN.1/24"
ns_avahi gw
ns_host cama
ns_attach cama "$LAN.2/24"
ns_avahi cama
ns_gateway gw
wait_for 10 "hearthd to browse mDNS" grep -q "mDNS discovery running" "$T/hearthd.log"
ctl household add Home >/dev/null

# --- discovered within 2 s of the announcement ---------------------------------
ns_camera cama A --announce "Front door" --txt model=FD-100
wait_for 20 "camera A's own avahi to publish it" ns_sees cama _rtsp._tcp "Front"
start=$(date +%s%N)
wait_for 2 "the gateway to list camera A as discovered" is_discovered "Front door"
log "camera A discovered $(( ($(date +%s%N) - start) / 1000000 )) ms after its announcement"
[ "$(discovered_field "Front door" address)" = "$LAN.2:$RTSP_PORT" ] || fail "wrong address"
[ "$(discovered_field "Front door" plugin)" = rtsp ] || fail "wrong plugin"
[ "$(discovered_field "Front door" model)" = FD-100 ] || fail "model from TXT not shown"
[ "$(discovered_field "Front door" state)" = discovered ] || fail "not in state discovered"
ctl camera list --discovered | grep -q "Front door" || fail "table lacks the camera"

# --- adopted with no URL typed; its frames reach a paired display -----------------
key=$(discovered_field "Front door" id)
password="s3cret-$$-$RANDOM"
printf '%s\n' "$password" >"$T/password"
chmod 600 "$T/password"
camera=$(ctl camera adopt "$key" --household Home --name Door --user admin \
  --password-file "$T/password" 2>/dev/null)
python3 -c "import uuid,sys; uuid.UUID(sys.argv[1])" "$camera" 2>/dev/null ||
  fail "adopt printed no camera id: $camera"
wait_for 30 "camera A to stream" camera_is "$camera" state streaming
[ "$(camera_field "$camera" url)" = "rtsp://$LAN.2:$RTSP_PORT/stream" ] || fail "url $(camera_field "$camera" url)"
evidence=$(ctl --json camera list | json "[c['evidence'] for c in j['cameras'] if c['id'] == '$camera'][0]")
echo "$evidence" | json "j['txt_id']" | grep -qx "$CAM_ID_A" || fail "TXT id not recorded: $evidence"
echo "$evidence" | json "j['mac']" | grep -qx "$(mac_of cama)" || fail "MAC not recorded: $evidence"
echo "$evidence" | json "j['mdns_name']" | grep -qx "Front door" || fail "instance not recorded"
audit_has camera-adopt || fail "no camera-adopt audit event"
# Its credentials are kept, and shown nowhere.
for shown in "$(ctl --json camera list)" "$(ctl --json audit)" "$(cat "$T/hearthd.log")"; do
  ! grep -qF "$password" <<<"$shown" || fail "the camera's password is shown"
done
[ "$(stat -c %a "$T/state/hearth.db")" = 600 ] || fail "the database is readable by others"
# Adopting the same device twice is refused, clearly.
rc=0; ctl camera adopt "$key" --household Home >/dev/null 2>"$T/twice.err" || rc=$?
[ $rc -ne 0 ] && grep -q "already adopted" "$T/twice.err" || fail "second adoption: $(cat "$T/twice.err")"

# --- the gateway announces itself to displays ----------------------------------------
fp=$(ctl --json status | json 'j["certificate_fingerprint"]')
wait_for 10 "_hearth._tcp with the gateway's fingerprint on the LAN" \
  ns_sees cama _hearth._tcp "$LAN\.1;$STREAM_PORT;.*\"fp=$fp\""
ns_sees cama _hearth._tcp '"pair=' && fail "a pairing port is announced with no window open"
! ns_browse cama _hearth._tcp | grep -Eiq "Home|Door|Front" || fail "the announcement names a household or camera"

payload=$(ctl pair --household Home --print-payload)
wait_for 10 "the pairing port to be announced while a window is open" \
  ns_sees cama _hearth._tcp '"pair=[0-9]+"'
ns_display gw tv pair "$payload" --name tv >"$T/pair.log" 2>&1 || fail "pairing: $(cat "$T/pair.log")"
no_pair_port() { ! ns_sees cama _hearth._tcp '"pair='; }
wait_for 10 "the pairing port to be withdrawn once the window is spent" no_pair_port
ns_display gw tv check "$camera" --frames 30 --expect-stamp "$CAM_ID_A" --timeout 60 >"$T/check-a.log" ||
  fail "display did not get camera A's frames: $(cat "$T/check-a.log")"
grep -qx "mismatched: 0" "$T/check-a.log" || fail "frames of another camera"

# --- the same camera at a new address: followed ------------------------------------
# It restarts with a new DHCP lease, as a camera does after a power cut.
kill -TERM "$CAM_PID_A"
wait "$CAM_PID_A" 2>/dev/null || true
ns_addr_add cama "$LAN.12/24"
ns_addr_del cama "$LAN.2/24"
ns_camera cama A --announce "Front door" --txt model=FD-100
wait_for 30 "the gateway to follow camera A to $LAN.12" \
  eval '[ "$(camera_field "$camera" url)" = "rtsp://$LAN.12:$RTSP_PORT/stream" ]'
wait_for 30 "camera A to stream from its new address" camera_is "$camera" state streaming
[ "$(ctl --json camera list | json 'len(j["cameras"])')" = 1 ] || fail "a second camera appeared"
audit_has camera-follow || fail "no camera-follow audit event"
ns_display gw tv check "$camera" --frames 30 --expect-stamp "$CAM_ID_A" --timeout 60 >"$T/check-a2.log" ||
  fail "no frames after the move: $(cat "$T/check-a2.log")"

# hand_over FROM-HOST TO-HOST: the address 10.77.0.12 goes to another device.
# It announces its address (gratuitous ARP, RFC 5227) as a DHCP client does;
# the veths here do not, so the gateway's host forgets the old MAC.
hand_over() {
  ns_addr_del "$1" "$LAN.12/24"
  ns_host "$2"
  ns_attach "$2" "$LAN.12/24"
  ip -n "$(_ns_name gw)" neigh flush to "$LAN.12"
}
snapshot_code() {
  ns_run gw curl -sS -o /dev/null -w '%{http_code}' --cert "$T/display-tv/display.crt" \
    --key "$T/display-tv/display.key" --cacert "$T/state/ca.crt" \
    "https://$LAN.1:$STREAM_PORT/v1/cameras/$camera/snapshot.jpg"
}

# --- its address handed to another device that announces itself: quarantined -----
watch_start "$camera" "$CAM_ID_A" ns_display gw tv
kill -TERM "$CAM_PID_A"
wait "$CAM_PID_A" 2>/dev/null || true
wait_for 20 "camera A's announcement to be withdrawn" not_discovered "Front door"
hand_over cama camb
ns_avahi camb
# The same model with its factory name: only its TXT id and MAC differ.
ns_camera camb B --announce "Front door" --txt model=FD-100
wait_for 30 "camera A to be quarantined" camera_is "$camera" state quarantined
reason=$(camera_field "$camera" reason)
log "quarantined: $reason"
case $reason in
  *"MAC address"*|*"TXT id"*) ;;
  *) fail "quarantine reason names no evidence: $reason" ;;
esac
audit_has camera-quarantine || fail "no camera-quarantine audit event"
[ "$(camera_field "$camera" url)" = "rtsp://$LAN.12:$RTSP_PORT/stream" ] || fail "quarantine changed the URL"
wait_for 30 "camera B to be listed as the quarantined camera's device" \
  eval '[ "$(discovered_field "Front door" state)" = quarantined ]'
watch_stop "$CAM_ID_B"
[ "$(snapshot_code)" = 503 ] || fail "a quarantined camera's snapshot answered $(snapshot_code)"

# The admin decides: adopting it again takes the new device's evidence.
ctl camera adopt "$camera" >/dev/null 2>&1 || fail "adopting the quarantined camera again"
wait_for 30 "the re-adopted camera to stream" camera_is "$camera" state streaming
ns_display gw tv check "$camera" --frames 10 --expect-stamp "$CAM_ID_B" --timeout 60 >"$T/check-b.log" ||
  fail "no frames of the re-adopted camera: $(cat "$T/check-b.log")"
evidence=$(ctl --json camera list | json "[c['evidence'] for c in j['cameras'] if c['id'] == '$camera'][0]")
echo "$evidence" | json "j['mac']" | grep -qx "$(mac_of camb)" || fail "new MAC not recorded: $evidence"

# --- its announcement withdrawn: noticed ------------------------------------------
[ "$(camera_field "$camera" announced)" = True ] || fail "camera not shown as announced"
watch_start "$camera" "$CAM_ID_B" ns_display gw tv
kill -TERM "$CAM_PID_B"
wait "$CAM_PID_B" 2>/dev/null || true
wait_for 20 "camera B's withdrawal to be noticed" not_discovered "Front door"
wait_for 10 "the camera to be shown as not announced" camera_is "$camera" announced False
grep -q "withdrew its mDNS announcement" "$T/hearthd.log" || fail "withdrawal not logged"

# --- its address handed to a device that does not announce: quarantined by MAC ---
# Nothing on mDNS says anything: the gateway's own reconnection finds another
# MAC at the address, before a byte of that device is served.
hand_over camb camc
ns_camera camc C
wait_for 60 "the camera to be quarantined by its MAC address" camera_is "$camera" state quarantined
reason=$(camera_field "$camera" reason)
log "quarantined: $reason"
case $reason in *"MAC address"*) ;; *) fail "quarantine reason is not the MAC: $reason" ;; esac
watch_stop "$CAM_ID_C"

# --- hostile records: ignored with a log line -------------------------------------
ns_host evil
ns_attach evil "$LAN.66/24"
ns_avahi evil
huge=()
for i in $(seq 1 80); do huge+=("k$i=$(printf 'x%.0s' $(seq 1 60))"); done
ns_bg evil avahi-publish -s "Huge TXT" _rtsp._tcp 8554 "${huge[@]}" >>"$T/publish.log" 2>&1
ns_bg evil avahi-publish -a -R "outside-$$.local" 203.0.113.7 >>"$T/publish.log" 2>&1
ns_bg evil avahi-publish -s -H "outside-$$.local" "Outside" _rtsp._tcp 554 "id=outside" \
  >>"$T/publish.log" 2>&1
ns_bg evil avahi-publish -s "Bad path" _rtsp._tcp 8554 "id=bad" "path=/../../etc/passwd" \
  >>"$T/publish.log" 2>&1
ns_bg evil avahi-publish -s "Odd TXT" _rtsp._tcp 8555 "=novalue" "$(printf 'k%.0s' $(seq 1 200))=v" \
  "id=$(printf '\001\002')" "mac=zz:zz" "path" >>"$T/publish.log" 2>&1
wait_for 20 "the hostile services to be visible on the LAN" ns_sees gw _rtsp._tcp "Odd"
wait_for 10 "the huge TXT to be ignored with a log line" \
  grep -q "Ignoring mDNS service “Huge TXT”.*too large" "$T/hearthd.log"
wait_for 10 "the outside address to be ignored with a log line" \
  grep -q "Ignoring mDNS service “Outside”.*outside the local networks" "$T/hearthd.log"
wait_for 10 "the odd TXT service to be listed" is_discovered "Odd TXT"
not_discovered "Huge TXT" || fail "a service with huge TXT records is listed"
not_discovered "Outside" || fail "a service at a public address is listed"
rc=0; ctl camera adopt "$(discovered_field "Bad path" id)" --household Home >/dev/null \
  2>"$T/badpath.err" || rc=$?
[ $rc -ne 0 ] || fail "a camera with a path of .. was adopted"
log "adopting the bad path: $(cat "$T/badpath.err")"
ctl status >/dev/null || fail "hearthd stopped answering"
[ "$(ctl --json camera list | json 'len(j["cameras"])')" = 1 ] || fail "a hostile service was adopted"

stop_gateway
