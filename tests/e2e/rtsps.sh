#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# RTSPS cameras and their certificates (invariant 5): a camera with a
# self-signed certificate is added by hand and streams; the gateway records
# its certificate on first use (camera list: evidence.certificate, the
# SHA-256 of its DER); two pinned cameras that swap addresses are refused,
# not quarantined, and stream again once back; a device that replays the
# certificate of a camera that streams elsewhere is quarantined; another
# device with another certificate at the same address and port is
# quarantined, with a reason that names the certificate, and a display never
# receives a frame of it.
source "$(dirname "$0")/lib.sh"

command -v certtool >/dev/null || fail "certtool (gnutls-bin) is needed"

# make_cert N: a self-signed ECDSA certificate and key, as a camera has.
make_cert() {
  cat >"$T/cert.tmpl" <<TMPL
cn = "Fake camera $1"
serial = $1
expiration_days = 30
signing_key
tls_www_server
TMPL
  certtool --generate-privkey --key-type ecdsa --no-text \
    --outfile "$T/key$1.pem" 2>>"$T/certtool.log"
  certtool --generate-self-signed --load-privkey "$T/key$1.pem" \
    --template "$T/cert.tmpl" --outfile "$T/cert$1.pem" 2>>"$T/certtool.log"
}
# sha256_of N: the SHA-256 of the certificate's DER, lower-case hex.
sha256_of() {
  python3 - "$T/cert$1.pem" <<'PY'
import base64, hashlib, re, sys
pem = open(sys.argv[1]).read()
body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S).group(1)
print(hashlib.sha256(base64.b64decode(body)).hexdigest())
PY
}
make_cert 1
make_cert 2
sha1=$(sha256_of 1)
sha2=$(sha256_of 2)
[ "$sha1" != "$sha2" ] || fail "the two certificates are the same"
# The same as certtool says (its "sha256:" line under Fingerprint).
grep -q "sha256:$sha1" <<<"$(certtool -i --infile "$T/cert1.pem")" ||
  fail "the SHA-256 computed here is not certtool's"

cat >"$T/hearthd.conf" <<CONF
[cameras]
backoff-min-ms = 100
backoff-max-ms = 400
CONF

start_camera door --tls-cert "$T/cert1.pem" --tls-key "$T/key1.pem"
case $CAM_URL_door in
  rtsps://127.0.0.1:*/stream) ;;
  *) fail "the fake camera does not serve RTSPS: $CAM_URL_door" ;;
esac
port=${CAM_URL_door#rtsps://127.0.0.1:}
port=${port%%/*}
start_gateway --config "$T/hearthd.conf"

ctl household add Home >/dev/null
camera=$(ctl camera add --household Home --name Door "rtsps://127.0.0.1:$port/stream")
camera_field() {
  ctl --json camera list | json "[c$2 for c in j['cameras'] if c['id'] == '$1'][0]"
}
camera_is() { [ "$(camera_field "$1" "['state']")" = "$2" ]; }
wait_for 30 "the RTSPS camera to stream" camera_is "$camera" streaming

pair_display tv Home
display tv check "$camera" --frames 30 --expect-stamp "$CAM_ID_door" --timeout 60 \
  >"$T/check.log" || fail "the display did not get the camera's frames: $(cat "$T/check.log")"
grep -qx "mismatched: 0" "$T/check.log" || fail "frames of another camera: $(cat "$T/check.log")"

# --- trust on first use: the certificate is recorded ------------------------
log "first use"
has_certificate() { [ "$(camera_field "$camera" "['evidence']['certificate']")" = "$1" ]; }
wait_for 10 "evidence.certificate to be the SHA-256 of the camera's certificate ($sha1)" \
  has_certificate "$sha1"

# --- two pinned cameras swap addresses ---------------------------------------
# Each one's certificate now answers at the other's address: both runs are
# refused before any request, neither camera is quarantined (each is a known
# camera, not another device), and once they are back both stream again.
log "swap"
make_cert 3
start_camera yard --tls-cert "$T/cert3.pem" --tls-key "$T/key3.pem"
yard_port=${CAM_URL_yard#rtsps://127.0.0.1:}
yard_port=${yard_port%%/*}
ctl household add Neighbour >/dev/null
yard=$(ctl camera add --household Neighbour --name Yard "rtsps://127.0.0.1:$yard_port/stream")
wait_for 30 "the second RTSPS camera to stream" camera_is "$yard" streaming
wait_for 10 "its certificate to be recorded" \
  test "$(camera_field "$yard" "['evidence']['certificate']")" = "$(sha256_of 3)"

# swap_to DOOR_PORT YARD_PORT: both cameras restarted at those ports.
swap_to() {
  kill -TERM "$CAM_PID_door" "$CAM_PID_yard"
  wait "$CAM_PID_door" "$CAM_PID_yard" 2>/dev/null || true
  start_camera door --port "$1" --tls-cert "$T/cert1.pem" --tls-key "$T/key1.pem"
  start_camera yard --port "$2" --tls-cert "$T/cert3.pem" --tls-key "$T/key3.pem"
}
watch_start "$camera" "$CAM_ID_door" display tv
swap_to "$yard_port" "$port"
refused_by_other() {
  grep -q "Camera $camera (“Door”): camera $yard (“Yard”) answers at its address now" \
    "$T/hearthd.log" &&
    grep -q "Camera $yard (“Yard”): camera $camera (“Door”) answers at its address now" \
      "$T/hearthd.log"
}
wait_for 30 "both cameras to be refused by the other's certificate" refused_by_other
for c in "$camera" "$yard"; do
  ! camera_is "$c" quarantined || fail "camera $c was quarantined after a swap"
  ! camera_is "$c" streaming || fail "camera $c streams from the other's address"
done
watch_stop "$CAM_ID_yard"
swap_to "$port" "$yard_port"
wait_for 30 "the door camera to stream again" camera_is "$camera" streaming
wait_for 30 "the yard camera to stream again" camera_is "$yard" streaming
has_certificate "$sha1" || fail "the door camera's pin changed in the swap"
display tv check "$camera" --frames 10 --expect-stamp "$CAM_ID_door" --timeout 60 \
  >"$T/check-swap.log" || fail "no frames after the swap back: $(cat "$T/check-swap.log")"
grep -qx "mismatched: 0" "$T/check-swap.log" || fail "frames of another camera after the swap"

# --- a device that shows another camera's certificate, which still streams --
# A certificate is public: a device at the door's address that replays the
# yard camera's certificate while the yard camera streams from its own
# address is no swap. The door camera is quarantined. Then the door camera is
# back and adopted again, and its certificate is pinned again.
log "replayed certificate"
kill -TERM "$CAM_PID_door"
wait "$CAM_PID_door" 2>/dev/null || true
start_camera thief --port "$port" --tls-cert "$T/cert3.pem" --tls-key "$T/key3.pem"
wait_for 30 "the door camera to be quarantined" camera_is "$camera" quarantined
grep -q "camera $yard" <<<"$(camera_field "$camera" "['reason']")" ||
  fail "the reason does not name the camera whose certificate was shown: \
$(camera_field "$camera" "['reason']")"
camera_is "$yard" streaming || fail "the yard camera stopped streaming"
kill -TERM "$CAM_PID_thief"
wait "$CAM_PID_thief" 2>/dev/null || true
start_camera door --port "$port" --tls-cert "$T/cert1.pem" --tls-key "$T/key1.pem"
ctl camera adopt "$camera" >/dev/null
wait_for 30 "the door camera to stream again" camera_is "$camera" streaming
wait_for 10 "the door camera's certificate to be pinned again" has_certificate "$sha1"

# --- another device at the same address and port, with another certificate --
log "certificate changed"
watch_start "$camera" "$CAM_ID_door" display tv
kill -TERM "$CAM_PID_door"
wait "$CAM_PID_door" 2>/dev/null || true
start_camera intruder --port "$port" --tls-cert "$T/cert2.pem" --tls-key "$T/key2.pem"
[ "$CAM_ID_intruder" != "$CAM_ID_door" ] || fail "the two devices have one stamp id"
[ "$CAM_URL_intruder" = "$CAM_URL_door" ] || fail "the other device is at $CAM_URL_intruder"

wait_for 30 "the camera to be quarantined" camera_is "$camera" quarantined
reason=$(camera_field "$camera" "['reason']")
grep -qi "certificate" <<<"$reason" || fail "the reason does not name the certificate: $reason"
# Still the certificate of first use: the other one is not recorded.
has_certificate "$sha1" ||
  fail "evidence.certificate changed to $(camera_field "$camera" "['evidence']['certificate']")"
camera_is "$camera" quarantined || fail "the camera left quarantine by itself"
watch_stop "$CAM_ID_intruder"

stop_gateway
log "ok"
