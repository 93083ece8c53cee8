#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# An ONVIF camera as sold (issue 15), found and adopted with no URL typed:
# hearthd and the fake ONVIF camera (tests/tools/fake-onvif.py, two
# fake-camera streams behind WS-Security and RTSP Digest) on a LAN of network
# namespaces (netns.sh); WS-Discovery multicast has TTL 1 and the hosts no
# default route, so no Probe or answer leaves the namespaces.
#
#   the camera is listed by `camera list --discovered` (plugin onvif, maker,
#   model, address) within seconds of its Hello; Debian's wsdd (a computer)
#   is not;
#   adopting it with a wrong password fails with "the camera refused the user
#   name or password"; with the right one it streams at once from the main
#   profile's URI, which the gateway asked of the camera, and keeps the sub
#   stream's; the reference display and ffprobe play it;
#   devices whose stream URI points outside the local networks, or at
#   another device, are refused at adoption; a camera that wants HTTP Digest
#   instead of WS-Security is adopted too (and refuses a wrong password);
#   the camera's password changed: camera list says the camera refused it
#   (RTSP 401), not "Could not read from resource";
#   the same device (endpoint reference) at a new address is followed: asked
#   again there, its URL changes;
#   another ONVIF device taking the camera's address quarantines it, and no
#   frame of that device reaches a display that watches the camera (stamps);
#   adopted again by the admin, the camera is the device there now;
#   the password is in no log or output of the gateway or of hearthctl.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/onvif-lib.sh"

_onvif_require
LAN=10.81.0

ns_lan
ns_host gw
ns_attach gw "$LAN.1/24"
ns_host cam
ns_attach cam "$LAN.2/24"
ns_host pc
ns_attach pc "$LAN.3/24"
ns_host evil
ns_attach evil "$LAN.4/24"

password="onvif-$$-$RANDOM-secret"
printf '%s\n' "$password" >"$T/password"
printf 'wrong-%s\n' "$password" >"$T/wrong"
chmod 600 "$T/password" "$T/wrong"

ns_gateway gw
ctl household add Home >/dev/null

discovered() { ctl --json camera list --discovered; }
entry() { discovered | json "[c for c in j['cameras'] if c['address'] == '$1'][0]['$2']"; }
is_listed() { entry "$1" id >/dev/null 2>&1; }
camera_field() { ctl --json camera list | json "[c['$2'] for c in j['cameras'] if c['id'] == '$1'][0]"; }
camera_is() { [ "$(camera_field "$1" "$2")" = "$3" ]; }
reason_has() { camera_field "$1" reason | grep -qF -- "$2"; }

# --- discovery ------------------------------------------------------------------
ns_wsdd pc
ns_onvif cam A --user admin --password-file "$T/password" --maker "Acme Vision" --model AV-2040
wait_for 10 "the ONVIF camera to be listed" is_listed "$LAN.2:80"
[ "$(entry "$LAN.2:80" plugin)" = onvif ] || fail "plugin: $(discovered)"
[ "$(entry "$LAN.2:80" maker)" = "Acme Vision" ] || fail "maker: $(discovered)"
[ "$(entry "$LAN.2:80" model)" = AV-2040 ] || fail "model: $(discovered)"
[ "$(entry "$LAN.2:80" state)" = discovered ] || fail "state: $(discovered)"
ctl camera list --discovered | grep -q "Acme Vision" || fail "the table lacks the camera"
# wsdd said Hello before the camera did; a Probe reached it too.
[ "$(discovered | json "len([c for c in j['cameras'] if c['address'].startswith('$LAN.3:')])")" = 0 ] ||
  fail "wsdd's computer is listed: $(discovered)"
key=$(entry "$LAN.2:80" id)

# --- adoption -------------------------------------------------------------------
if ctl camera adopt "$key" --household Home --user admin --password-file "$T/wrong" \
    >"$T/adopt-wrong.out" 2>"$T/adopt-wrong.err"; then
  fail "adopted with a wrong password"
fi
grep -q "the camera refused the user name or password" "$T/adopt-wrong.err" ||
  fail "wrong password: $(cat "$T/adopt-wrong.err")"
[ "$(ctl --json camera list | json "len(j['cameras'])")" = 0 ] || fail "a camera was left behind"

id=$(ctl camera adopt "$key" --household Home --user admin --password-file "$T/password" \
  2>"$T/adopt.err") || fail "adopt: $(cat "$T/adopt.err")"
wait_for 30 "the ONVIF camera to stream" camera_is "$id" state streaming
camera_is "$id" url "$ONVIF_MAIN_URI_A" || fail "url $(camera_field "$id" url), not $ONVIF_MAIN_URI_A"
camera_is "$id" plugin onvif || fail "plugin $(camera_field "$id" plugin)"
[ "$(entry "$LAN.2:80" state)" = adopted ] || fail "not adopted in the list: $(discovered)"
# The sub stream's URI is kept (ingesting it is not done yet).
camera_is "$id" sub_url "$ONVIF_SUB_URI_A" || fail "sub_url $(camera_field "$id" sub_url)"

payload=$(ctl pair --household Home --print-payload)
ns_display gw tv pair "$payload" --name TV >"$T/pair.log" 2>&1 || fail "pair: $(cat "$T/pair.log")"
ns_display gw tv check "$id" --frames 30 --expect-stamp "$ONVIF_MAIN_STAMP_A" --timeout 60 \
  >"$T/check.log" || fail "the display: $(cat "$T/check.log")"
ns_run gw ffprobe -v error -cert_file "$(cert_of tv)" -key_file "$(key_of tv)" \
  -ca_file "$(gateway_cert)" -tls_verify 1 -rw_timeout 20000000 -select_streams v \
  -count_frames -show_entries stream=codec_name,width,nb_read_frames -of csv=p=0 \
  -read_intervals "%+#10" "$(url "/v1/cameras/$id/live.mp4")" >"$T/ffprobe.txt" 2>"$T/ffprobe.err" ||
  fail "ffprobe: $(cat "$T/ffprobe.err")"
grep -q "^h264,1280," "$T/ffprobe.txt" || fail "ffprobe: $(cat "$T/ffprobe.txt")"

# --- stream URIs that must be refused ---------------------------------------------
ns_onvif evil B --user admin --password-file "$T/password" --maker Public \
  --stream-uri-host 203.0.113.7:554
wait_for 10 "device B to be listed" is_listed "$LAN.4:80"
if ctl camera adopt "$(entry "$LAN.4:80" id)" --household Home --user admin \
    --password-file "$T/password" >/dev/null 2>"$T/adopt-b.err"; then
  fail "adopted a camera whose stream is outside the local networks"
fi
grep -q "stream URI is refused" "$T/adopt-b.err" || fail "B: $(cat "$T/adopt-b.err")"
ns_onvif_stop B
wait_for 10 "device B's Bye" eval '! is_listed "$LAN.4:80"'

ONVIF_UUID_C=$(python3 -c 'import uuid; print(uuid.uuid4())')
ns_onvif evil C --user admin --password-file "$T/password" --maker Other \
  --stream-uri-host "$LAN.2:554"
wait_for 10 "device C to be listed" is_listed "$LAN.4:80"
if ctl camera adopt "$(entry "$LAN.4:80" id)" --household Home --user admin \
    --password-file "$T/password" >/dev/null 2>"$T/adopt-c.err"; then
  fail "adopted a camera whose stream is another device's"
fi
grep -q "points at another device" "$T/adopt-c.err" || fail "C: $(cat "$T/adopt-c.err")"
ns_onvif_stop C

# --- a camera that wants HTTP Digest instead of WS-Security ---------------------------
ns_onvif evil E --user admin --password-file "$T/password" --auth http-digest --maker Digest
wait_for 10 "device E to be listed" is_listed "$LAN.4:80"
key_e=$(entry "$LAN.4:80" id)
if ctl camera adopt "$key_e" --household Home --user admin --password-file "$T/wrong" \
    >/dev/null 2>"$T/adopt-e-wrong.err"; then
  fail "adopted E with a wrong password"
fi
grep -q "the camera refused the user name or password" "$T/adopt-e-wrong.err" ||
  fail "E, wrong password: $(cat "$T/adopt-e-wrong.err")"
id_e=$(ctl camera adopt "$key_e" --household Home --user admin --password-file "$T/password" \
  2>"$T/adopt-e.err") || fail "adopt E: $(cat "$T/adopt-e.err")"
wait_for 30 "camera E to stream" camera_is "$id_e" state streaming
ctl camera remove "$id_e" >/dev/null
ns_onvif_stop E

# --- the camera's password changed: RTSP says 401 -----------------------------------
ns_onvif_stop A
ns_onvif cam A --user admin --password-file "$T/wrong" --maker "Acme Vision" --model AV-2040
wait_for 60 "camera list to say the password was refused" \
  reason_has "$id" "the camera refused the user name or password"
ns_onvif_stop A
ns_onvif cam A --user admin --password-file "$T/password" --maker "Acme Vision" --model AV-2040
wait_for 60 "the camera to stream again" camera_is "$id" state streaming

# --- the same device at a new address: followed --------------------------------------
ns_onvif_stop A
ns_addr_add cam "$LAN.12/24"
ns_addr_del cam "$LAN.2/24"
ns_onvif cam A --user admin --password-file "$T/password" --maker "Acme Vision" --model AV-2040
[ "$ONVIF_MAIN_URI_A" = "rtsp://$LAN.12:554/Streaming/Channels/101" ] ||
  fail "the camera did not move: $ONVIF_MAIN_URI_A"
wait_for 60 "the camera to be followed to $LAN.12" camera_is "$id" url "$ONVIF_MAIN_URI_A"
wait_for 60 "the camera to stream at $LAN.12" camera_is "$id" state streaming

# --- another ONVIF device takes its address: quarantined ---------------------------
watch_start "$id" "$ONVIF_MAIN_STAMP_A" ns_display gw tv
ns_onvif_stop A
ns_onvif cam D --maker Intruder --model X
wait_for 30 "the camera to be quarantined" camera_is "$id" state quarantined
# D streams at the camera's address while the display asks again and again.
asked=$(find "$WATCH" -name '*.frames' | wc -l)
display_asked() { [ "$(find "$WATCH" -name '*.frames' | wc -l)" -ge $((asked + 3)) ]; }
wait_for 60 "the display to ask for the camera three more times" display_asked
watch_stop "$ONVIF_MAIN_STAMP_D"
ctl audit | grep -q "camera-quarantine" || fail "no audit of the quarantine: $(ctl audit)"

# The admin adopts it again: the device at its address now is asked for its
# URIs, and its evidence is the camera's from now on.
ctl camera adopt "$id" >/dev/null 2>"$T/readopt.err" || fail "adopt again: $(cat "$T/readopt.err")"
wait_for 30 "the camera to stream again" camera_is "$id" state streaming
[ "$(ctl --json camera list | json "[c['evidence']['txt_id'] for c in j['cameras'] if c['id'] == '$id'][0]")" = \
  "urn:uuid:$ONVIF_UUID_D" ] || fail "the evidence seen now was not taken: $(ctl --json camera list)"
ns_display gw tv check "$id" --frames 10 --expect-stamp "$ONVIF_MAIN_STAMP_D" --timeout 60 \
  >"$T/check-d.log" || fail "the display after adopting again: $(cat "$T/check-d.log")"

# --- no credential anywhere ----------------------------------------------------------
for f in "$T/hearthd.log" "$T"/adopt*.err "$T"/adopt*.out "$T/check.log"; do
  [ -e "$f" ] || continue
  ! grep -qF -- "$password" "$f" || fail "the password is in $f"
done
ctl --json camera list | grep -qF -- "$password" && fail "the password is in camera list"
ctl --json camera list --discovered | grep -qF -- "$password" && fail "the password is in the list"
ctl audit | grep -qF -- "$password" && fail "the password is in the audit log"

ns_onvif_stop D
stop_gateway
