#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What TLS both ports and the reference display speak: TLS 1.3, or TLS 1.2
# with ECDHE and an AEAD cipher. TLS 1.0 and 1.1, and TLS 1.2 with only CBC
# ciphers, are refused (gnutls-cli and openssl s_client); a display that
# renegotiates on the stream port loses its connection; hearth-display
# refuses a server that offers only TLS 1.1.
source "$(dirname "$0")/lib.sh"

start_gateway
grep -q "TLS: NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" "$T/hearthd.log" ||
  fail "hearthd does not log its TLS priority"
ctl household add Home >/dev/null
pair_display tv Home
# A window that stays open keeps the pairing port up.
ctl pair --household Home --print-payload >/dev/null
pairing_port=$(ctl --json status | json 'j["pairing_port"]')
[ "$pairing_port" -gt 0 ] || fail "no pairing port"

# gnutls PORT PRIORITY [ARGS...]: a handshake (no certificate check: only the
# protocol is tested), its report in $T/gnutls.log; fails if it is refused.
gnutls() {
  local port=$1 priority=$2
  shift 2
  gnutls-cli --insecure --priority "$priority" -p "$port" "$@" 127.0.0.1 \
    </dev/null >"$T/gnutls.log" 2>&1
}
# ossl PORT ARGS...: the same with openssl s_client, report in $T/openssl.log.
ossl() {
  local port=$1
  shift
  openssl s_client -connect "127.0.0.1:$port" "$@" </dev/null >"$T/openssl.log" 2>&1
}

# The pairing port resets at once a fourth connection from one address still
# short of its handshake, and a finished connection counts for a moment after
# it closed: a handshake the gateway reset is tried again. A refusal of the
# protocol closes the connection after the client's hello, without a reset.
reset() { grep -q -E 'Error in the pull function|Connection reset by peer|errno=104' "$1"; }
# refusal PORT COMMAND LOG: COMMAND (gnutls or ossl) was refused (0) or
# accepted (0, $T/accepted made); reset (1).
refusal() {
  local port=$1 command=$2 log=$3
  shift 3
  if "$command" "$port" "$@"; then
    touch "$T/accepted"
  elif reset "$log"; then
    return 1
  fi
}
# refused PORT WHAT gnutls|ossl ARGS...: the handshake must be refused.
refused() {
  local port=$1 what=$2 command=$3 log=$T/gnutls.log
  shift 3
  [ "$command" = gnutls ] || log=$T/openssl.log
  rm -f "$T/accepted"
  wait_for 20 "port $port to answer" refusal "$port" "$command" "$log" "$@"
  [ ! -e "$T/accepted" ] ||
    fail "port $port accepts $what: $(grep -E 'Description|Protocol|Cipher is' "$log")"
}
# accepted PORT WHAT gnutls|ossl ARGS...: the handshake must succeed.
accepted() {
  local port=$1 what=$2 command=$3
  shift 3
  wait_for 20 "port $port to take $what" "$command" "$port" "$@"
}

for port in "$STREAM_PORT" "$pairing_port"; do
  for version in TLS1.0 TLS1.1; do
    refused "$port" "$version" gnutls "NORMAL:-VERS-ALL:+VERS-$version"
  done
  refused "$port" "TLS 1.2 with CBC ciphers" gnutls \
    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-CBC:+AES-128-CBC:-MAC-ALL:+SHA1:+SHA256:+SHA384"
  # OpenSSL 3 offers TLS 1.0 and 1.1 only at security level 0.
  for version in -tls1 -tls1_1; do
    refused "$port" "openssl $version" ossl "$version" -cipher 'DEFAULT@SECLEVEL=0'
  done

  accepted "$port" "TLS 1.2 with AES-128-GCM" gnutls "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM"
  grep -q -- '- Description: (TLS1.2-X.509)-(ECDHE-' "$T/gnutls.log" ||
    fail "port $port: $(grep Description "$T/gnutls.log")"
  # TLS 1.3 is preferred, and AES-GCM before ChaCha20 even when the client
  # would rather have ChaCha20.
  accepted "$port" "TLS 1.3" gnutls "NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-GCM"
  grep -q -- '- Description: (TLS1.3-X.509)-.*-(AES-256-GCM)' "$T/gnutls.log" ||
    fail "port $port: $(grep Description "$T/gnutls.log")"
  accepted "$port" "openssl -tls1_2" ossl -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384
  grep -q 'Cipher is ECDHE-ECDSA-AES256-GCM-SHA384' "$T/openssl.log" ||
    fail "port $port: $(grep 'Cipher is' "$T/openssl.log")"
done

# A paired display gets its answer over TLS 1.2 and TLS 1.3, not over TLS 1.0.
for versions in "--tlsv1.2 --tls-max 1.2" "--tlsv1.3"; do
  # shellcheck disable=SC2086
  status=$(curl_as tv $versions -o /dev/null -w '%{http_code}' "$(url /v1/cameras)")
  [ "$status" = 200 ] || fail "curl $versions: $status"
done
! curl_as tv --tlsv1.0 --tls-max 1.0 --ciphers 'DEFAULT@SECLEVEL=0' -o /dev/null \
  "$(url /v1/cameras)" 2>/dev/null || fail "a display got an answer over TLS 1.0"

# A client's renegotiation of a TLS 1.2 session. A display's certificate on
# the stream port: the gateway refuses it and closes the connection.
renegotiate() {
  gnutls "$STREAM_PORT" "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM" --rehandshake \
    --x509certfile "$(cert_of tv)" --x509keyfile "$(key_of tv)" || true
  grep -q 'Handshake was completed' "$T/gnutls.log"
}
wait_for 20 "a first handshake on the stream port" renegotiate
grep -q 'ReHandshake has failed' "$T/gnutls.log" ||
  fail "the stream port renegotiates: $(cat "$T/gnutls.log")"
# hearth-display refuses a server that offers only TLS 1.1 (the gateway's own
# key and certificate, at the stream port the display has stored).
stop_gateway
gnutls-serv --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.1' --http -p "$STREAM_PORT" \
  --x509certfile "$T/state/gateway.crt" --x509keyfile "$T/state/gateway.key" \
  >"$T/gnutls-serv.log" 2>&1 &
PIDS+=($!)
wait_for 20 "gnutls-serv to answer" gnutls "$STREAM_PORT" 'NORMAL:-VERS-ALL:+VERS-TLS1.1'
rc=0
display tv list --mdns-timeout 0 >"$T/old.log" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "hearth-display talked to a TLS 1.1 server: $(cat "$T/old.log")"
grep -q -i 'TLS\|handshake' "$T/old.log" || fail "hearth-display: $(cat "$T/old.log")"
log "hearth-display against a TLS 1.1 server: $(cat "$T/old.log")"
