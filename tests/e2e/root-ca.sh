#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway's root CA, from an upgrade: hearthd started on a state directory
# made by Hearth 0.1.0 (tests/fixtures/paired-0.1.0: a self-signed server
# certificate, CA:FALSE) makes its root CA and a server certificate the CA
# signs for the same key, as certtool reads them. The display that 0.1.0
# paired (its pin: the old certificate) lists and plays a camera without
# pairing again and moves its pin to the CA; curl and ffprobe trust the
# gateway with the CA alone. A display whose pinned certificate has another
# key is refused. A restart keeps both certificates. Then, in a network
# namespace, the host gains and loses an address: the running gateway issues
# its server certificate again, naming exactly its addresses, for the
# connections that follow, under the same CA.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"

: "${HEARTH_PAIRED_FIXTURE:?run through meson test}"
FIX=$HEARTH_PAIRED_FIXTURE

# certtool's SHA-256 key id of a certificate.
key_id() { certtool -i --infile "$1" | sed -n '/Public Key ID:/,/sha256:/s/^\s*sha256:\([0-9a-f]*\)$/\1/p'; }
ini_pin() { sed -n 's/^fingerprint=//p' "$T/display-$1/display.ini"; }
streaming() { [ "$(ctl --json camera stats "$1" | json 'j["state"]')" = streaming ]; }

mkdir -m 700 "$T/state"
cp "$FIX/state/gateway.key" "$FIX/state/gateway.crt" "$T/state/"
sqlite3 -bail -batch "$T/state/hearth.db" ".read $FIX/state/hearth.sql" >/dev/null
chmod 600 "$T/state/"*
old_key=$(key_id "$T/state/gateway.crt")
[ -n "$old_key" ] || fail "no key id in the fixture's certificate"

start_gateway
ca_fp=$(ctl --json status | json 'j["certificate_fingerprint"]')

# --- the root CA, as certtool reads it ---------------------------------------------
[ "$(stat -c %a "$T/state/ca.key")" = 600 ] || fail "ca.key is not 0600"
certtool -i --infile "$T/state/ca.crt" >"$T/ca.txt"
for line in "Subject: CN=Hearth gateway" "Basic Constraints (critical):" \
    "Certificate Authority (CA): TRUE" "Path Length Constraint: 0" \
    "Key Usage (critical):" "Certificate signing." "CRL signing." \
    "Subject Key Identifier" "Name Constraints (not critical):" "DNSname: local" \
    "DNSname: localhost" "IPAddress: 127.0.0.0/8" "IPAddress: 192.168.0.0/16" \
    "Curve:	SECP256R1" "sha256:$ca_fp"; do
  grep -qF -- "$line" "$T/ca.txt" || fail "the root CA has no \"$line\": $(cat "$T/ca.txt")"
done

# --- the server certificate: the same key, now signed by the CA ---------------------
certtool -i --infile "$T/state/gateway.crt" >"$T/server.txt"
for line in "Issuer: CN=Hearth gateway" "Certificate Authority (CA): FALSE" \
    "TLS WWW Server." "Digital signature." "Authority Key Identifier" \
    "DNSname: localhost" "DNSname: $(hostname)" "IPAddress: 127.0.0.1"; do
  grep -qF -- "$line" "$T/server.txt" || fail "the server certificate has no \"$line\": $(cat "$T/server.txt")"
done
[ "$(key_id "$T/state/gateway.crt")" = "$old_key" ] || fail "the upgrade changed the gateway's key"
certtool --verify --load-ca-certificate "$T/state/ca.crt" --infile "$T/state/gateway.crt" \
  >"$T/verify.txt" 2>&1 || fail "certtool does not verify it against the CA: $(cat "$T/verify.txt")"
not_before=$(sed -n 's/^\s*Not Before: //p' "$T/server.txt")
not_after=$(sed -n 's/^\s*Not After: //p' "$T/server.txt")
days=$((($(date -d "$not_after" +%s) - $(date -d "$not_before" +%s)) / 86400))
[ "$days" -le 397 ] || fail "the server certificate is valid for $days days"
log "server certificate: $days days, key unchanged, verified against the root CA"

# --- the display 0.1.0 paired, as it was (only the gateway's port is new) -----------
cp -r "$FIX/display" "$T/display-kitchen"
chmod 700 "$T/display-kitchen"
chmod 600 "$T/display-kitchen/display.key" "$T/display-kitchen/display.ini"
sed -i "s/^stream-addresses=.*/stream-addresses=127.0.0.1:$STREAM_PORT;/" \
  "$T/display-kitchen/display.ini"
[ "$(ini_pin kitchen)" != "$ca_fp" ] || fail "the fixture already pins the CA"

start_camera door
cam=$(ctl camera add --household Home --name Door "$CAM_URL_door")
display kitchen list >"$T/list.log" 2>&1 || fail "the old display cannot list: $(cat "$T/list.log")"
grep -q "$cam" "$T/list.log" || fail "camera not listed: $(cat "$T/list.log")"
[ "$(ini_pin kitchen)" = "$ca_fp" ] || fail "the display did not move its pin to the CA"
cmp -s "$T/display-kitchen/gateway.crt" "$T/state/ca.crt" ||
  fail "the display did not keep the CA as gateway.crt"
wait_for 30 "the camera to stream" streaming "$cam"
expect_check kitchen "$cam" "$CAM_ID_door" 30

# --- other players trust the gateway with the CA alone, at 127.0.0.1 -----------------
curl_as kitchen --fail "$(url /v1/cameras)" >"$T/curl.json" || fail "curl --cacert ca.crt failed"
grep -q "$cam" "$T/curl.json" || fail "curl did not list the camera: $(cat "$T/curl.json")"
ffprobe_as kitchen -show_entries stream=codec_name -of csv=p=0 -read_intervals %+#5 \
  "$(url "/v1/cameras/$cam/live.mp4")" >"$T/ffprobe.log" 2>"$T/ffprobe.err" ||
  fail "ffprobe -ca_file ca.crt failed: $(cat "$T/ffprobe.err")"
grep -qx h264 "$T/ffprobe.log" || fail "ffprobe saw no H.264: $(cat "$T/ffprobe.log")"

# --- a pin of another key does not move: the display is refused ----------------------
cp -r "$FIX/display" "$T/display-other"
chmod 700 "$T/display-other"
chmod 600 "$T/display-other/display.key" "$T/display-other/display.ini"
cp "$FIX/display/display.crt" "$T/display-other/gateway.crt"
other_fp=$(certtool -i --infile "$T/display-other/gateway.crt" |
  sed -n '/Fingerprint:/,/sha256:/s/^\s*sha256:\([0-9a-f]*\)$/\1/p')
sed -i -e "s/^stream-addresses=.*/stream-addresses=127.0.0.1:$STREAM_PORT;/" \
  -e "s/^fingerprint=.*/fingerprint=$other_fp/" "$T/display-other/display.ini"
rc=0
display other list --mdns-timeout 0 >"$T/other.log" 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "a display pinning another key got in ($rc): $(cat "$T/other.log")"
grep -q "certificate rejected" "$T/other.log" || fail "not refused for its pin: $(cat "$T/other.log")"
[ "$(ini_pin other)" = "$other_fp" ] || fail "the refused display's pin changed"

# --- new pairings pin the CA ------------------------------------------------------------
payload=$(ctl pair --household Home --print-payload)
[[ $payload == *"fp=$ca_fp"* ]] || fail "the QR payload does not pin the CA: $payload"

# --- a restart issues nothing new --------------------------------------------------------
before=$(cat "$T/state/ca.crt" "$T/state/gateway.crt" | sha256sum)
stop_gateway
start_gateway --listen "127.0.0.1:$STREAM_PORT"
[ "$(cat "$T/state/ca.crt" "$T/state/gateway.crt" | sha256sum)" = "$before" ] ||
  fail "a restart changed the CA or the server certificate"
display kitchen list >"$T/list2.log" 2>&1 || fail "list after restart: $(cat "$T/list2.log")"
stop_gateway

# --- the host's addresses change under a running gateway -------------------------------
# tls_ok ADDRESS: from the gateway's host, a TLS client that trusts only the
# CA accepts the certificate served at ADDRESS (the handshake is the
# client's; the gateway refuses it afterwards for want of a client
# certificate).
tls_ok() {
  ns_run gw python3 -c '
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection((sys.argv[2], int(sys.argv[3])), 5) as raw:
    ctx.wrap_socket(raw, server_hostname=sys.argv[2]).close()' \
    "$T/state/ca.crt" "$1" "$STREAM_PORT"
}
not_named() { ! grep -q "IPAddress: $1\$" <<<"$(certtool -i --infile "$T/state/gateway.crt")"; }
ns_lan
ns_host gw
ns_attach gw 10.78.0.1/24
ns_gateway gw
tls_ok 10.78.0.1 || fail "the certificate does not name the host's address"
ns_addr_add gw 10.78.0.7/24
wait_for 20 "the certificate served to name the new address" tls_ok 10.78.0.7
grep -q "Issued the gateway's certificate for .* (the previous one: it does not name 10.78.0.7)" \
  "$T/hearthd.log" || fail "hearthd did not say why it issued the certificate again"
[ "$(ctl --json status | json 'j["certificate_fingerprint"]')" = "$ca_fp" ] ||
  fail "the root CA changed with the certificate"
sed -i "s/^stream-addresses=.*/stream-addresses=10.78.0.7:$STREAM_PORT;/" \
  "$T/display-kitchen/display.ini"
ns_display gw kitchen list >"$T/list3.log" 2>&1 ||
  fail "the display cannot list after the renewal: $(cat "$T/list3.log")"
ns_addr_del gw 10.78.0.7/24
wait_for 20 "the certificate to stop naming the old address" not_named 10.78.0.7
stop_gateway
log "ok"
