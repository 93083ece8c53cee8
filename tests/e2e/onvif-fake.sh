#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The fake ONVIF camera (tests/tools/fake-onvif.py) as a client the project
# did not write sees it (issue 15): the npm `onvif` package
# (tests/onvif-client), on a LAN of network namespaces (netns.sh), with
# ffprobe for its streams. Nothing leaves the namespaces.
#
#   its Hello is on the LAN when it starts; the npm client's Probe finds it
#   with its endpoint, types, scopes (maker, model) and device address; a
#   Probe with no types finds it (on IPv6's ff02::c too), one for other
#   types does not;
#   with the password: device information (maker, model, serial, the MAC of
#   its interface), two H.264 profiles of different sizes and two different
#   stream URIs; ffprobe plays both (with the credentials) at those sizes,
#   and neither without them;
#   a wrong password, or none: refused with NotAuthorized;
#   stopped: its Bye is on the LAN; started again with hostile stream URIs
#   and HTTP Digest instead of WS-Security: the same device (UUID) answers
#   those URIs to the right password, and 401 to a wrong one;
#   Debian's wsdd, a WS-Discovery device that is not a camera, announces
#   itself (a Hello without Types) and does not answer the camera Probe;
#   the password is in no output or log of the fake.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/onvif-lib.sh"

LAN=10.79.0

ns_lan
ns_host client
ns_attach client "$LAN.1/24"
ns_multicast_route client
ns_host cam
ns_attach cam "$LAN.2/24"
ns_host pc
ns_attach pc "$LAN.3/24"
ns_wsd_listen client
ns_ipv6 client
ns_ipv6 cam

password="onvif-$$-$RANDOM-pw"
printf '%s\n' "$password" >"$T/password"
printf 'not-%s\n' "$password" >"$T/wrong"
chmod 600 "$T/password" "$T/wrong"

# --- Hello, and the npm client's Probe ------------------------------------------
ns_onvif cam A --user admin --password-file "$T/password" --maker "Acme Vision" --model AV-2040 --ipv6
mac=$(ns_run cam cat /sys/class/net/lan0/address)
[ "$ONVIF_XADDR_A" = "http://$LAN.2:80/onvif/device_service" ] || fail "XAddr $ONVIF_XADDR_A"
wait_for 10 "camera A's Hello on the LAN" \
  ns_wsd_seen client "^Hello urn:uuid:$ONVIF_UUID_A dn:NetworkVideoTransmitter tds:Device$"

onvif_client client probe --timeout 3000 >"$T/probe.json" || fail "probe: $(cat "$T/probe.json")"
found() { json "[d for d in j['devices'] if d['endpoint'] == 'urn:uuid:$ONVIF_UUID_A']" <"$T/probe.json"; }
[ "$(json "len(j['devices'])" <"$T/probe.json")" = 1 ] || fail "probe: not one device: $(cat "$T/probe.json")"
device=$(found)
[ "$(json "j[0]['xaddrs']" <<<"$device")" = "[\"$ONVIF_XADDR_A\"]" ] || fail "probe: xaddrs $device"
[ "$(json "j[0]['from']" <<<"$device")" = "$LAN.2" ] || fail "probe: answered from elsewhere: $device"
for scope in onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Acme%20Vision \
    onvif://www.onvif.org/hardware/AV-2040; do
  json "'$scope' in j[0]['scopes']" <<<"$device" | grep -qx True || fail "probe: no scope $scope: $device"
done
json "j[0]['types'] == ['dn:NetworkVideoTransmitter', 'tds:Device']" <<<"$device" | grep -qx True ||
  fail "probe: types $device"
log "the npm client discovered camera A: $(json "j[0]['scopes']" <<<"$device")"

# Probes written here: no types (matches), another device type (does not).
probe_raw() {
  ns_run client python3 - "$@" <<'PY'
import socket, sys, uuid
types = sys.argv[1]
ipv6 = len(sys.argv) > 2
probe = ('<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
         'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
         'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
         'xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof">'
         f'<e:Header><w:MessageID>urn:uuid:{uuid.uuid4()}</w:MessageID>'
         '<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>'
         '<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>'
         f'<e:Body><d:Probe>{types}</d:Probe></e:Body></e:Envelope>')
if ipv6:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.sendto(probe.encode(), ("ff02::c", 3702, 0, socket.if_nametoindex("lan0")))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(probe.encode(), ("239.255.255.250", 3702))
s.settimeout(1.5)
try:
    while True:
        data, peer = s.recvfrom(65536)
        print(peer[0], "ProbeMatches" in data.decode(errors="replace"))
except socket.timeout:
    pass
PY
}
[ "$(probe_raw "")" = "$LAN.2 True" ] || fail "a Probe with no types is not answered"
[ -z "$(probe_raw "<d:Types>wsdp:Device</d:Types>")" ] || fail "a Probe for wsdp:Device is answered"
cam_ll=$(ip -n "$(_ns_name cam)" -6 -o addr show dev lan0 scope link | awk '{split($4, a, "/"); print a[1]}')
answer=$(probe_raw "" ipv6)
[ "$answer" = "$cam_ll True" ] || fail "a Probe on [ff02::c]:3702: “$answer”, not from $cam_ll"

# --- the camera, with the password ----------------------------------------------
onvif_client client camera --host "$LAN.2" --user admin --password-file "$T/password" \
  >"$T/camera.json" || fail "the npm client: $(cat "$T/camera.json")"
field() { json "$1" <"$T/camera.json"; }
[ "$(field "j['deviceInformation']['manufacturer']")" = "Acme Vision" ] || fail "maker: $(cat "$T/camera.json")"
[ "$(field "j['deviceInformation']['model']")" = AV-2040 ] || fail "model"
[ "$(field "j['deviceInformation']['serialNumber']")" = "$ONVIF_SERIAL_A" ] || fail "serial"
[ "$(field "j['mac']")" = "$mac" ] || fail "MAC $(field "j['mac']"), not $mac"
[ "$(field "len(j['profiles'])")" = 2 ] || fail "not two profiles: $(cat "$T/camera.json")"
[ "$(field "[p['encoding'] for p in j['profiles']]")" = '["H264", "H264"]' ] || fail "encodings"
[ "$(field "[(p['width'], p['height']) for p in j['profiles']]")" = '[[1280, 720], [640, 360]]' ] ||
  fail "sizes: $(cat "$T/camera.json")"
main_uri=$(field "j['profiles'][0]['uri']")
sub_uri=$(field "j['profiles'][1]['uri']")
[ "$main_uri" = "$ONVIF_MAIN_URI_A" ] && [ "$sub_uri" = "$ONVIF_SUB_URI_A" ] &&
  [ "$main_uri" != "$sub_uri" ] || fail "stream URIs: $main_uri $sub_uri"
log "profiles: $(field "[(p['name'], p['width'], p['height'], p['uri']) for p in j['profiles']]")"

# --- ffprobe plays both streams, with the credentials only --------------------------
with_credentials() { sed "s|^rtsp://|rtsp://admin:$password@|" <<<"$1"; }
size_of() {
  ns_run client ffprobe -v error -rw_timeout 20000000 -select_streams v \
    -show_entries stream=codec_name,width,height -of csv=p=0 "$1" 2>"$T/ffprobe.err"
}
[ "$(size_of "$(with_credentials "$main_uri")")" = h264,1280,720 ] ||
  fail "ffprobe of the main stream: $(cat "$T/ffprobe.err")"
[ "$(size_of "$(with_credentials "$sub_uri")")" = h264,640,360 ] ||
  fail "ffprobe of the sub stream: $(cat "$T/ffprobe.err")"
! size_of "$main_uri" >/dev/null || fail "the main stream plays without credentials"
grep -q "401 Unauthorized" "$T/ffprobe.err" || fail "no 401 without credentials: $(cat "$T/ffprobe.err")"
! size_of "rtsp://admin:wrong@${sub_uri#rtsp://}" >/dev/null || fail "the sub stream plays with a wrong password"

# --- a wrong password, or none: NotAuthorized --------------------------------------
rc=0
onvif_client client camera --host "$LAN.2" --user admin --password-file "$T/wrong" \
  >"$T/wrong.json" || rc=$?
[ $rc = 2 ] || fail "a wrong password: exit status $rc: $(cat "$T/wrong.json")"
grep -q "Sender not Authorized" "$T/wrong.json" || fail "a wrong password: $(cat "$T/wrong.json")"
grep -q "GetServices: Sender/NotAuthorized (wrong user or password (PasswordDigest)): 400" \
  "$T/onvif-A.log" || fail "the fake did not refuse the wrong password"
rc=0
onvif_client client camera --host "$LAN.2" >"$T/none.json" || rc=$?
[ $rc = 2 ] && grep -q "Sender not Authorized" "$T/none.json" || fail "no password: $(cat "$T/none.json")"
log "a wrong password: $(json "j['error']" <"$T/wrong.json")"

# The WS-Security rules the fake documents, by hand: PasswordText accepted;
# a digest's nonce once only; Created within 5 minutes; PRE_AUTH operations
# open, the others not.
ns_run client python3 - "$LAN.2" "$T/password" >"$T/wsse.txt" 2>&1 <<'PY' || fail "WS-Security: $(cat "$T/wsse.txt")"
import base64, datetime, hashlib, os, sys, urllib.error, urllib.request
host, password = sys.argv[1], open(sys.argv[2]).readline().rstrip("\n")
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
def token(kind, created, nonce=None):
    if kind == "PasswordText":
        return f'<Password Type="{PROFILE}#PasswordText">{password}</Password>'
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest())
    return (f'<Password Type="{PROFILE}#PasswordDigest">{digest.decode()}</Password>'
            f'<Nonce>{base64.b64encode(nonce).decode()}</Nonce>'
            f'<Created xmlns="http://docs.oasis-open.org/wss/2004/01/'
            f'oasis-200401-wss-wssecurity-utility-1.0.xsd">{created}</Created>')
def call(operation, security=None):
    header = (f'<Security xmlns="{WSSE}"><UsernameToken><Username>admin</Username>'
              f'{security}</UsernameToken></Security>') if security else ""
    body = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
            f'<s:Header>{header}</s:Header><s:Body>'
            f'<{operation} xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>')
    request = urllib.request.Request(f"http://{host}/onvif/device_service", body.encode(),
                                     {"Content-Type": "application/soap+xml"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code if "ter:NotAuthorized" in text else f"{e.code} without NotAuthorized"
def now(delta=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
nonce = os.urandom(16)
fresh = now()
checks = [
    ("PasswordText", call("GetDeviceInformation", token("PasswordText", now())), 200),
    ("PasswordDigest", call("GetDeviceInformation", token("Digest", fresh, nonce)), 200),
    ("the same nonce again", call("GetDeviceInformation", token("Digest", fresh, nonce)), 400),
    ("Created 10 minutes ago", call("GetDeviceInformation", token("Digest", now(-600), os.urandom(16))), 400),
    ("GetDeviceInformation without a token", call("GetDeviceInformation"), 400),
    ("GetScopes without a token", call("GetScopes"), 400),
    ("GetCapabilities without a token (PRE_AUTH)", call("GetCapabilities"), 200),
    ("GetSystemDateAndTime without a token", call("GetSystemDateAndTime"), 200),
]
bad = [f"{what}: {got}, not {want}" for what, got, want in checks if got != want]
print("\n".join(bad) or "ok")
sys.exit(1 if bad else 0)
PY

# --- wsdd: a WS-Discovery device that is not a camera ---------------------------------
ns_wsdd pc
wait_for 10 "wsdd's Hello at the client" ns_wsd_seen client "^Hello urn:uuid:$WSDD_UUID "
onvif_client client probe --timeout 3000 >"$T/probe2.json" || fail "probe: $(cat "$T/probe2.json")"
[ "$(json "[d['endpoint'] for d in j['devices']]" <"$T/probe2.json")" = "[\"urn:uuid:$ONVIF_UUID_A\"]" ] ||
  fail "the camera Probe found other devices: $(cat "$T/probe2.json")"

# --- Bye; the same device again, with hostile stream URIs ----------------------------
ns_onvif_stop A
wait_for 10 "camera A's Bye on the LAN" ns_wsd_seen client "^Bye urn:uuid:$ONVIF_UUID_A "
hellos() { grep -c "^Hello urn:uuid:$ONVIF_UUID_A " "$T/wsd-client.txt"; }
before=$(hellos)
ns_onvif cam A --user admin --password-file "$T/password" --stream-uri-host 203.0.113.7 \
  --stream-uri "Profile_2=rtsp://$LAN.3:554/Streaming/Channels/102" --auth http-digest
wait_for 10 "camera A's Hello when it starts again" eval '[ "$(hellos)" -gt "$before" ]'
onvif_client client camera --host "$LAN.2" --user admin --password-file "$T/password" \
  >"$T/camera.json" || fail "the npm client: $(cat "$T/camera.json")"
[ "$(field "[p['uri'] for p in j['profiles']]")" = \
  "[\"rtsp://203.0.113.7/Streaming/Channels/101\", \"rtsp://$LAN.3:554/Streaming/Channels/102\"]" ] ||
  fail "hostile URIs not answered: $(cat "$T/camera.json")"
grep -q "GetStreamUri: ok (HTTP Digest): 200" "$T/onvif-A.log" || fail "HTTP Digest was not used"
rc=0
onvif_client client camera --host "$LAN.2" --user admin --password-file "$T/wrong" \
  >"$T/wrong-digest.json" || rc=$?
[ $rc = 2 ] && grep -q "Digest authentication failed 401" "$T/wrong-digest.json" ||
  fail "a wrong password with HTTP Digest: $(cat "$T/wrong-digest.json")"
ns_onvif_stop A

# --- the password is in no output or log of the fake --------------------------------
for file in "$T"/onvif-A.* "$T"/wsd-client.txt "$T"/probe*.json "$T"/camera.json "$T"/wrong*.json; do
  ! grep -qF -- "$password" "$file" || fail "the password is in $(basename "$file")"
done
log "ok"
