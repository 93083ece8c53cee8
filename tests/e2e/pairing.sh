#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Pairing under bad input: used and expired codes with no pairing window open
# (the pairing port is closed: the display asks the stream port, s= in the
# code, whether the gateway is up, and says the code is no longer accepted,
# not that the gateway is unreachable), wrong, spent and expired tokens
# answered by an open pairing port, malformed payloads,
# a gateway certificate that does not match the QR, a peer outside the local
# networks, and one token used twice at the same moment. Each gets a clear
# error and writes nothing; the concurrent pair yields exactly one display.
source "$(dirname "$0")/lib.sh"

# Only 127.0.0.1 counts as local, so 127.0.0.2 plays a peer from outside.
start_gateway --local-networks 127.0.0.1/32
ctl household add Home

displays() { ctl --json display list | json 'len(j["displays"])'; }
no_files() { [ ! -e "$T/display-$1/display.ini" ] || fail "display $1 kept a pairing"; }

listener_closed() { [ "$(ctl --json status | json 'j["pairing_port"]')" = 0 ]; }
# not_accepted LOG: the display said the gateway is up but takes this code no more.
not_accepted() {
  grep -q "the gateway is not accepting this pairing code (it was used or has expired)" "$1" &&
    grep -q "no pairing window is open" "$1" && grep -q "hearthctl pair" "$1" &&
    ! grep -q "could not reach" "$1" || fail "$(basename "$1"): unclear message: $(cat "$1")"
}

# A used code, with no other window open: the listener is closed.
used=$(ctl pair --household Home --print-payload)
grep -q "[?&]s=127.0.0.1:$STREAM_PORT&" <<<"$used" || fail "no stream address in the code: $used"
display used pair "$used" --name used >/dev/null
wait_for 10 "the pairing listener to close" listener_closed
rc=0; display used2 pair "$used" --name used2 >"$T/used-closed.log" 2>&1 || rc=$?
cat "$T/used-closed.log"
[ $rc -eq 2 ] || fail "used code, window closed: exit $rc"
not_accepted "$T/used-closed.log"
no_files used2

# An expired code, the listener closed: hearthctl pair waits the second out.
rc=0; ctl pair --household Home --ttl 1s >"$T/short-closed.log" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "hearthctl pair --ttl 1s: exit $rc"
wait_for 10 "the pairing listener to close" listener_closed
rc=0; display late0 pair "$(grep -m1 '^https://.*/pair?' "$T/short-closed.log")" --name late0 \
  >"$T/expired-closed.log" 2>&1 || rc=$?
cat "$T/expired-closed.log"
[ $rc -eq 2 ] || fail "expired code, window closed: exit $rc"
not_accepted "$T/expired-closed.log"
no_files late0

# A gateway that is down is not "not accepting": it is unreachable. (A code
# whose stream address answers nothing: the same gateway, another port.)
unreachable=$(sed "s/\([?&]s=127.0.0.1:\)[0-9]*/\1$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')/" <<<"$used")
rc=0; display gone pair "$unreachable" --name gone >"$T/unreachable.log" 2>&1 || rc=$?
cat "$T/unreachable.log"
[ $rc -eq 2 ] && grep -q "could not reach the gateway" "$T/unreachable.log" &&
  ! grep -q "not accepting" "$T/unreachable.log" || fail "unreachable gateway: $(cat "$T/unreachable.log")"
base=$(displays)

# A window that stays open keeps the listener up for the rest of the test.
keep=$(ctl pair --household Home --ttl 10m --print-payload)

# Wrong token: same gateway, a token that was never issued.
wrong=$(sed 's/\([?&]t=\)[0-9a-f]*/\10123456789abcdef0123456789abcdef/' <<<"$keep")
rc=0; display w pair "$wrong" --name w >"$T/wrong.log" 2>&1 || rc=$?
cat "$T/wrong.log"
[ $rc -eq 2 ] || fail "wrong token: exit $rc"
grep -qi "not valid" "$T/wrong.log" || fail "wrong token: unclear message"
grep -q "not accepting this pairing code" "$T/wrong.log" && grep -q "hearthctl pair" "$T/wrong.log" ||
  fail "wrong token: no advice: $(cat "$T/wrong.log")"
[ "$(displays)" -eq "$base" ] || fail "wrong token wrote a display"
no_files w

# Spent token: the first use pairs, the second is refused.
payload=$(ctl pair --household Home --print-payload)
display first pair "$payload" --name first >/dev/null
rc=0; display second pair "$payload" --name second >"$T/spent.log" 2>&1 || rc=$?
cat "$T/spent.log"
[ $rc -eq 2 ] || fail "spent token: exit $rc"
grep -qi "already used" "$T/spent.log" || fail "spent token: unclear message"
grep -q "not accepting this pairing code" "$T/spent.log" && grep -q "hearthctl pair" "$T/spent.log" ||
  fail "spent token: no advice: $(cat "$T/spent.log")"
[ "$(displays)" -eq $((base + 1)) ] || fail "spent token wrote a display"
no_files second

# Expired token: a one-second window, waited out through hearthctl itself.
ctl pair --household Home --ttl 1s >"$T/short.log" 2>&1 &
short_pid=$!
wait_for 10 "short payload" grep -q '^https://.*/pair?' "$T/short.log"
short=$(grep -m1 '^https://.*/pair?' "$T/short.log")
rc=0; wait "$short_pid" || rc=$?
[ $rc -eq 1 ] && grep -q "expired" "$T/short.log" || fail "hearthctl pair did not report expiry (exit $rc)"
rc=0; display late pair "$short" --name late >"$T/expired.log" 2>&1 || rc=$?
cat "$T/expired.log"
[ $rc -eq 2 ] || fail "expired token: exit $rc"
grep -qi "expired" "$T/expired.log" && grep -q "hearthctl pair" "$T/expired.log" ||
  fail "expired token: unclear message"
[ "$(displays)" -eq $((base + 1)) ] || fail "expired token wrote a display"

# Malformed payloads are refused before anything is sent.
for bad in "" "hello" "http://example.com/" "hearth://pair?v=2" \
    "hearth://pair?v=1&fp=abc&a=127.0.0.1:1&t=00" \
    "hearth://pair?${keep#*\?}" \
    "$(sed 's|^https://[^/]*/|https://pair/|' <<<"$keep")" \
    "$(sed 's/\([?&]fp=\)[0-9a-f]*/\1zz/' <<<"$keep")" \
    "$keep$(head -c 3000 /dev/zero | tr '\0' 'x')"; do
  rc=0; display m pair "$bad" --name m >"$T/bad.log" 2>&1 || rc=$?
  [ $rc -eq 65 ] || fail "malformed payload “${bad:0:60}” gave exit $rc: $(cat "$T/bad.log")"
  [ -s "$T/bad.log" ] || fail "malformed payload without a message"
done
no_files m
[ "$(displays)" -eq $((base + 1)) ] || fail "a malformed payload wrote a display"

# A payload naming a public address or a host name is refused before any
# lookup or connection: at once, with a message, whatever the address.
for host in 8.8.8.8 example.com '[2001:4860:4860::8888]'; do
  for far in "$(sed "s|^https://[^/]*/|https://$host:8444/|" <<<"$keep")" \
      "$(sed "s/\([?&]s=\)[^&]*/\1$host:8444/" <<<"$keep")"; do
    [ "$far" != "$keep" ] || fail "no s= in $keep"
    start=$(date +%s%N)
    rc=0; display far pair "$far" --name far >"$T/far.log" 2>&1 || rc=$?
    took=$((($(date +%s%N) - start) / 1000000))
    [ $rc -eq 65 ] && grep -qF "names $host:8444, which is not a local IP address" "$T/far.log" ||
      fail "$far: exit $rc: $(cat "$T/far.log")"
    [ $took -lt 5000 ] || fail "$far: refused only after $took ms"
  done
done
no_files far

# A QR whose fingerprint is not this gateway's: the display refuses to talk.
other_fp=$(printf '%064d' 0)
pinned=$(sed "s/\\([?&]fp=\\)[0-9a-f]*/\\1$other_fp/" <<<"$keep")
rc=0; display p pair "$pinned" --name p >"$T/pin.log" 2>&1 || rc=$?
cat "$T/pin.log"
[ $rc -eq 2 ] || fail "mismatching fingerprint: exit $rc"
no_files p
[ "$(displays)" -eq $((base + 1)) ] || fail "a pinning failure wrote a display"

# A pairing request from outside the local networks is refused and audited.
port=$(ctl --json status | json 'j["pairing_port"]')
token=$(sed -n 's/.*[?&]t=\([0-9a-f]*\).*/\1/p' <<<"$keep")
code=$(curl -sk --interface 127.0.0.2 -o "$T/outside.json" -w '%{http_code}' \
  -H 'Content-Type: application/json' \
  -d "{\"token\":\"$token\",\"public_key\":\"x\",\"name\":\"outside\"}" \
  "https://127.0.0.1:$port/v1/pair")
[ "$code" = 403 ] || fail "outside peer got $code"
[ "$(json 'j["error"]' <"$T/outside.json")" = not_local ] || fail "outside peer: $(cat "$T/outside.json")"
ctl audit | grep -q "peer-refused" || fail "outside peer not audited"

# An empty body (or only whitespace, which JSON parsers take for no value at
# all) is a plain 400, not a critical in the gateway's log.
for body in "" " "; do
  code=$(curl -sk -o "$T/empty.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$body" "https://127.0.0.1:$port/v1/pair")
  [ "$code" = 400 ] || fail "a body of “$body” got $code"
  [ "$(json 'j["error"]' <"$T/empty.json")" = bad_request ] || fail "empty body: $(cat "$T/empty.json")"
done
! grep -q "CRITICAL" "$T/hearthd.log" || fail "an empty body logged: $(grep CRITICAL "$T/hearthd.log")"
# A name with a NUL character (json-glib would cut it at the NUL, to "Ho")
# is refused, with the reason.
code=$(curl -sk -o "$T/nul.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"token\":\"$token\",\"public_key\":\"x\",\"name\":\"Ho\\u0000me\"}" \
  "https://127.0.0.1:$port/v1/pair")
[ "$code" = 400 ] && [ "$(json 'j["error"]' <"$T/nul.json")" = bad_request ] &&
  grep -q 'NUL character' "$T/nul.json" || fail "a name with a NUL: $code $(cat "$T/nul.json")"

# The stream port refuses the same outside peer, even with a good certificate.
stream_port=$(ctl --json status | json 'j["stream_port"]')
if curl -sS --interface 127.0.0.2 --cert "$T/display-first/display.crt" \
    --key "$T/display-first/display.key" --cacert "$T/state/ca.crt" \
    "https://127.0.0.1:$stream_port/v1/cameras" >/dev/null 2>"$T/outside-stream.err"; then
  fail "the stream port answered a peer outside the local networks"
fi
curl -sS --cert "$T/display-first/display.crt" --key "$T/display-first/display.key" \
  --cacert "$T/state/ca.crt" "https://127.0.0.1:$stream_port/v1/cameras" >/dev/null ||
  fail "the same display from inside was refused"

# One token, two displays at the same moment: exactly one pairs.
payload=$(ctl pair --household Home --print-payload)
display c1 pair "$payload" --name c1 >"$T/c1.log" 2>&1 & p1=$!
display c2 pair "$payload" --name c2 >"$T/c2.log" 2>&1 & p2=$!
r1=0; wait $p1 || r1=$?
r2=0; wait $p2 || r2=$?
log "concurrent: exit $r1 and $r2"
[ $((r1 == 0 ? 1 : 0)) -ne $((r2 == 0 ? 1 : 0)) ] || fail "concurrent pairing: exits $r1 and $r2"
[ "$(displays)" -eq $((base + 2)) ] || fail "concurrent pairing wrote $(($(displays) - base)) displays in all"
grep -qi "already used" "$T/c1.log" "$T/c2.log" || fail "the loser got an unclear message"

# Every surviving display row is whole: a certificate and a fingerprint.
[ "$(ctl --json display list | json 'all(len(d["fingerprint"])==64 for d in j["displays"])')" = True ] ||
  fail "a display row without a certificate"

# Guessing is slowed down: after repeated failures from one address the
# pairing port answers 429 for a while, even to a good token.
limited=0
for i in $(seq 1 15); do
  code=$(curl -sk -D "$T/guess.head" -o "$T/guess.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"token":"00000000000000000000000000000000","public_key":"x","name":"guess"}' \
    "https://127.0.0.1:$port/v1/pair")
  if [ "$code" = 429 ]; then limited=$i; break; fi
  [ "$code" = 403 ] || fail "guess $i answered $code"
done
[ $limited -gt 0 ] || fail "15 wrong guesses were never slowed down"
[ "$(json 'j["error"]' <"$T/guess.json")" = rate_limited ] || fail "429 without rate_limited"
# libsoup 3.2.3 alone would say "429 Unknown Error".
grep -q $'^HTTP/1.1 429 Too Many Requests\r$' "$T/guess.head" ||
  fail "the 429 says: $(head -1 "$T/guess.head")"
log "rate limited after $limited guesses"
payload=$(ctl pair --household Home --print-payload)
rc=0; display late2 pair "$payload" --name late2 >"$T/limited.log" 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "a rate-limited peer could still pair (exit $rc)"
[ "$(displays)" -eq $((base + 2)) ] || fail "a rate-limited attempt wrote a display"

stop_gateway
log "ok"
