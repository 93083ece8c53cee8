#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# hearth-display finds its gateway by mDNS when the addresses it knows do not
# answer. Two hosts on a private LAN (netns.sh), each with its own avahi:
# "gw" runs hearthd and a fake camera, "tv" is the display.
# - Pairing with a QR code whose addresses are dead: the pairing port comes
#   from the gateway's _hearth._tcp record (pair=). The same code again, now
#   spent (no window open: its pairing port refuses, no pair=), and without
#   its stream addresses (s=): the record's stream port, answering with the
#   pinned certificate, shows that the gateway is up and does not accept the
#   code.
# - The gateway restarts on another port (stored address refused), then moves
#   to another address (stored address unreachable): list and check still
#   work, say so in one line, and the new address is stored and used next.
# - Records that must not be used: another certificate fingerprint (pointing
#   at the real gateway, so using it would have worked), a public address,
#   and a hostile TXT record (the fingerprint followed by a NUL byte).
# - No avahi-daemon: the connection error plus one line saying mDNS was not
#   possible.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"

ns_lan
ns_host gw
ns_host tv
ns_attach gw 10.77.0.1/24
ns_attach tv 10.77.0.2/24
ns_avahi gw
ns_avahi tv

# For the impostor records hearthd must be quiet: its own discovery (and so
# its _hearth._tcp announcement) off.
cat >"$T/quiet.conf" <<EOF
[discovery]
enabled = false
EOF

PAIR_PORT=8444
gateway_at() { # STREAM-PORT [quiet]: (re)starts hearthd in gw on every address
  local config=()
  [ "${2:-}" != quiet ] || config=(--config "$T/quiet.conf")
  ns_gateway gw "${config[@]}" --listen "0.0.0.0:$1" --pairing-listen "0.0.0.0:$PAIR_PORT"
}

# The gateway's own _hearth._tcp record, as the display's host sees it:
# stream port, fp=, and pair= while a pairing window is open.
gateway_record_seen() { # STREAM-PORT [PAIR-PORT]
  local line
  line=$(ns_browse tv _hearth._tcp | grep -E ";10\.77\.0\.[0-9]+;$1;" | grep -F "\"fp=$GATEWAY_FP\"") ||
    return 1
  [ -z "${2:-}" ] || grep -qF "\"pair=$2\"" <<<"$line"
}
announce_gateway_record() { # STREAM-PORT [PAIR-PORT]
  wait_for 15 "hearthd's record on the LAN" gateway_record_seen "$@"
}
withdraw_gateway_record() {
  wait_for 15 "hearthd's record to go" ns_lost tv _hearth._tcp "\"fp=$GATEWAY_FP\""
}

# tv_display ARGS...: hearth-display on the tv host (no leak check, as lib.sh's client).
tv_display() {
  ns_run tv env ASAN_OPTIONS=detect_leaks=0 "$BIN_DISPLAY" --config-dir "$T/display-tv" "$@"
}
# The same with the test's sanitizer options: leaks of the mDNS paths count.
tv_display_checked() {
  ns_run tv "$BIN_DISPLAY" --config-dir "$T/display-tv" "$@"
}
stored() { tv_display info | sed -n 's/^stream-addresses: //p'; }
# moved_lines FILE: how many lines say the gateway was found by mDNS.
moved_lines() { grep -c 'found it by mDNS at' "$1" || true; }

gateway_at 8443
camera_id=
ns_bg gw "$BIN_CAMERA" --address 127.0.0.1 --port 8554 --stamp-id \
  "$(python3 -c 'import uuid; print(uuid.uuid4())')" --ready-file "$T/camera.ready" \
  >>"$T/camera.log" 2>&1
wait_for 20 "camera" test -s "$T/camera.ready"
stamp=$(sed 's/.*stamp-id=//' "$T/camera.ready")
ctl household add Home
camera_id=$(ctl camera add --household Home --name Door rtsp://127.0.0.1:8554/stream)

# The fingerprint the QR code pins is the SHA-256 of the root CA's DER.
GATEWAY_FP=$(python3 -c '
import base64, hashlib, sys
pem = open(sys.argv[1]).read().split("-----")[2]
print(hashlib.sha256(base64.b64decode(pem)).hexdigest())' "$(gateway_cert)")
[ "$GATEWAY_FP" = "$(ctl --json status | json 'j["certificate_fingerprint"]')" ] ||
  fail "hearthctl status shows another fingerprint than the certificate's"
payload=$(ctl pair --household Home --ttl 10m --print-payload)
[[ $payload == *"fp=$GATEWAY_FP"* ]] || fail "the payload does not pin $GATEWAY_FP: $payload"
# hearthd listens on 0.0.0.0, which is IPv4 only: the code names gw's IPv4
# addresses (LAN, then loopback), and not its IPv6 loopback.
ns_run gw ip -6 addr show dev lo | grep -q '::1/128' || fail "gw has no ::1: nothing to leave out"
advertised=$(python3 -c '
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
q = urllib.parse.parse_qs(u.query)
print(" ".join([u.netloc] + q.get("a", []) + q.get("s", [])))' "$payload")
[ "$advertised" = "10.77.0.1:$PAIR_PORT 127.0.0.1:$PAIR_PORT 10.77.0.1:8443 127.0.0.1:8443" ] ||
  fail "the code names $advertised"

# --- pairing: the QR code's addresses are dead, mDNS has the pairing port ----
announce_gateway_record 8443 "$PAIR_PORT"
# One address, 10.77.0.200: on the LAN, but nobody has it (no answer, no refusal).
dead=$(sed -E 's|^https://[^/]*/pair[?]|https://10.77.0.200:8444/pair?|; s/&[as]=[^&]*//g' <<<"$payload")
[[ $dead == "https://10.77.0.200:8444/pair?"* && $dead != *"10.77.0.1"* ]] || fail "cannot rewrite $payload"
start=$SECONDS
tv_display pair "$dead" --name tv >"$T/pair.out" 2>"$T/pair.err" ||
  fail "pairing through mDNS: $(cat "$T/pair.err")"
cat "$T/pair.err"
grep -q "paired as display" "$T/pair.out" || fail "no pairing: $(cat "$T/pair.out")"
grep -q "found its pairing port by mDNS at 10.77.0.1:$PAIR_PORT" "$T/pair.err" ||
  fail "pairing did not say it used mDNS"
[ "$(wc -l <"$T/pair.err")" -eq 1 ] || fail "more than one line on stderr"
log "paired through mDNS in $((SECONDS - start)) s"
log "stored after pairing: $(stored)"
[[ $(stored) == *10.77.0.1:8443* ]] || fail "pairing stored $(stored)"

# --- the same code, spent: the gateway is up, the code is not accepted -------
no_pair_seen() {
  local line
  line=$(ns_browse tv _hearth._tcp | grep -E ";10\.77\.0\.1;8443;" | grep -F "\"fp=$GATEWAY_FP\"") &&
    ! grep -qF '"pair=' <<<"$line"
}
wait_for 15 "the pairing port to leave the record" no_pair_seen
spent=$(sed -E 's/&s=[^&]*//g' <<<"$payload")
[[ $spent != *"&s="* && $spent == "https://10.77.0.1:$PAIR_PORT/pair?"* ]] || fail "cannot rewrite $payload"
rc=0
ns_run tv env ASAN_OPTIONS=detect_leaks=0 "$BIN_DISPLAY" --config-dir "$T/display-tv2" \
  pair "$spent" --name tv2 >"$T/spent.out" 2>"$T/spent.err" || rc=$?
cat "$T/spent.err"
[ $rc -eq 2 ] || fail "a spent code through mDNS: exit $rc"
grep -q "not accepting this pairing code" "$T/spent.err" &&
  grep -q "at 10.77.0.1:8443: no pairing window is open" "$T/spent.err" ||
  fail "a spent code through mDNS: $(cat "$T/spent.err")"

tv_display list >"$T/list0.out" 2>"$T/list0.err" || fail "list: $(cat "$T/list0.err")"
grep -q "$camera_id" "$T/list0.out" || fail "camera not listed"
[ "$(moved_lines "$T/list0.err")" -eq 0 ] || fail "mDNS used while the stored address works"

# --- the gateway restarts on another port: the stored one is refused ---------
stop_gateway
gateway_at 9443
announce_gateway_record 9443
start=$SECONDS
tv_display list >"$T/list1.out" 2>"$T/list1.err" || fail "list after the port changed: $(cat "$T/list1.err")"
cat "$T/list1.err"
grep -q "$camera_id" "$T/list1.out" || fail "camera not listed through mDNS"
[ "$(moved_lines "$T/list1.err")" -eq 1 ] || fail "list did not say it used mDNS"
grep -q "at 10.77.0.1:9443 and stored" "$T/list1.err" || fail "wrong address or not stored"
[ "$(stored)" = "10.77.0.1:9443" ] || fail "stored: $(stored)"
log "refused → found by mDNS in $((SECONDS - start)) s"
# The next run goes straight to it.
tv_display list >"$T/list2.out" 2>"$T/list2.err" || fail "list at the stored address: $(cat "$T/list2.err")"
[ "$(moved_lines "$T/list2.err")" -eq 0 ] || fail "the stored address was not used"

# --- the gateway moves to another address: the stored one is unreachable ----
stop_gateway
withdraw_gateway_record
ns_addr_add gw 10.77.0.9/24
ns_addr_del gw 10.77.0.1/24
gateway_at 9443
announce_gateway_record 9443
start=$SECONDS
tv_display check "$camera_id" --frames 15 --expect-stamp "$stamp" --timeout 60 \
  >"$T/check.out" 2>"$T/check.err" || fail "check after the move: $(cat "$T/check.out" "$T/check.err")"
cat "$T/check.err"
grep -qx "ok" "$T/check.out" || fail "check did not pass: $(cat "$T/check.out")"
grep -q "at 10.77.0.9:9443 and stored" "$T/check.err" || fail "check did not find the new address"
[ "$(stored)" = "10.77.0.9:9443" ] || fail "stored: $(stored)"
log "unreachable → found by mDNS, 15 frames checked, in $((SECONDS - start)) s"

# --- records that must be ignored ---------------------------------------------
# The gateway moves on to a port nobody announces; only impostors are left.
stop_gateway
withdraw_gateway_record
gateway_at 10443 quiet
# Another fingerprint, pointing at the real gateway: using it would work.
other_fp=$(printf '%064d' 0)
ns_bg gw avahi-publish-service "Other gateway" _hearth._tcp 10443 v=1 "fp=$other_fp" \
  >>"$T/publish-other.log" 2>&1
# The right fingerprint at a public address (198.51.100.0/24, TEST-NET-2: a
# name published by the test, no host has it, tv has no route to it).
ns_bg gw avahi-publish-address "public-$$.local" 198.51.100.7 >>"$T/publish-public.log" 2>&1
ns_bg gw avahi-publish-service -H "public-$$.local" "Public gateway" _hearth._tcp 10443 v=1 \
  "fp=$GATEWAY_FP" >>"$T/publish-public.log" 2>&1
# The right fingerprint followed by a NUL byte and more (a C string compare
# would take it), with a huge TXT string beside it: announced by the fake
# camera, which can send any bytes.
nul_fp=$(printf 'fp=%s' "$GATEWAY_FP" | od -An -tx1 | tr -d ' \n')00787878
ns_bg gw "$BIN_CAMERA" --address 0.0.0.0 --port 0 --announce "Hostile gateway" \
  --service-type _hearth._tcp --no-default-txt --txt v=1 --txt-hex "$nul_fp" \
  --txt "junk=$(head -c 240 /dev/zero | tr '\0' x)" >>"$T/camera-hostile.log" 2>&1
wait_for 15 "the impostor records" ns_sees tv _hearth._tcp ';Other\\032gateway;.*;10443;'
wait_for 15 "the hostile record" ns_sees tv _hearth._tcp ';Hostile\\032gateway;'
wait_for 15 "the public record" ns_sees tv _hearth._tcp ';Public\\032gateway;.*;198\.51\.100\.7;10443;'
rc=0
tv_display_checked list >"$T/list3.out" 2>"$T/list3.err" || rc=$?
cat "$T/list3.err"
[ $rc -eq 2 ] || fail "list through impostor records: exit $rc"
grep -q "10.77.0.9:9443: " "$T/list3.err" || fail "the original error is missing"
grep -q "1 with another certificate fingerprint" "$T/list3.err" || fail "the other fingerprint was not ignored"
grep -q "outside the local networks (198.51.100.7)" "$T/list3.err" || fail "the public address was not ignored"
grep -q "1 with an unusable TXT record" "$T/list3.err" || fail "the hostile record was not ignored"
[ "$(stored)" = "10.77.0.9:9443" ] || fail "an ignored record changed the stored address: $(stored)"

# The right record comes back: found again.
stop_gateway
gateway_at 10443
announce_gateway_record 10443
tv_display_checked list >"$T/list4.out" 2>"$T/list4.err" || fail "list with the record back: $(cat "$T/list4.err")"
grep -q "at 10.77.0.9:10443 and stored" "$T/list4.err" || fail "the real record was not used: $(cat "$T/list4.err")"

# --- no avahi-daemon on the display's host ------------------------------------
stop_gateway
gateway_at 11443
ns_avahi_stop tv
rc=0
tv_display_checked list >"$T/list5.out" 2>"$T/list5.err" || rc=$?
cat "$T/list5.err"
[ $rc -eq 2 ] || fail "list without avahi: exit $rc"
grep -q "could not reach the gateway: 10.77.0.9:10443: connection refused" "$T/list5.err" ||
  fail "the connection error is missing"
grep -qx "mDNS lookup was not possible: .*" "$T/list5.err" || fail "no line about mDNS"
[ "$(wc -l <"$T/list5.err")" -eq 2 ] || fail "expected two lines"

stop_gateway
log "ok"
