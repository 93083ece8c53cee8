#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Who may see what over the stream port: no certificate → "not paired" and
# nothing else, logged and audited (rate-limited); three
# requests on one kept-alive connection are all the same display; a display
# of household B gets 404 for household A's camera, exactly like a camera that
# does not exist; revoking a display cuts its open stream, and after that its
# certificate (like one no household issued) gets only the "not paired" answer.
# Authenticated connections are capped per display and per household (3 and
# 5 here): beyond them a request is answered 429, and another household's
# display still gets in.
source "$(dirname "$0")/lib.sh"

start_camera a
start_camera b
printf '[limits]\nmax-connections-per-display = 3\nmax-connections-per-household = 5\n' \
  >"$T/caps.conf"
start_gateway --config "$T/caps.conf"

ctl household add A
ctl household add B
cam_a=$(ctl camera add --household A --name Door "$CAM_URL_a")
cam_b=$(ctl camera add --household B --name Yard "$CAM_URL_b")
pair_display alice A
pair_display bob B
wait_for 30 "cameras to stream" sh -c "[ \$('$BIN_CTL' --state-dir '$T/state' camera list | grep -c streaming) -eq 2 ]"

# No client certificate: the handshake goes through (the port asks for a
# certificate, it does not require one), and every request, whatever it
# asks for, gets the same small "not paired" answer and nothing else: no API,
# no camera, no household. Its connection is closed after the answer.
# not_paired PATH [CURL ARGS...]: prints the status and the connections
# made; the answer goes to $T/np.head and $T/np.body.
not_paired() {
  local path=$1
  shift
  curl -sS --max-time 10 --cacert "$(gateway_cert)" -D "$T/np.head" -o "$T/np.body" \
    -w '%{http_code} %{num_connects}' "$@" "$(url "$path")"
}
leaks() { grep -q -e "$cam_a" -e "$cam_b" -e Door -e Yard -e '"cameras"' "$T/np.body"; }
# Through the handshake without a certificate and then silent: closed at
# the handshake deadline (5 s), as a connection that never shook hands is.
python3 - "$STREAM_PORT" "$(gateway_cert)" >"$T/np.silent" 2>&1 <<'PY' &
import socket, ssl, sys, time
port, ca = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="127.0.0.1")
start = time.monotonic()
s.settimeout(30)
try:
    data = s.recv(1)
except (OSError, ssl.SSLError):
    data = b""
print(f"{len(data)} {time.monotonic() - start:.1f}")
PY
silent_pid=$!
[ "$(not_paired /v1/cameras)" = "403 1" ] || fail "no certificate: $(head -1 "$T/np.head")"
cp "$T/np.body" "$T/not-paired.json"
[ "$(json 'j["error"]' <"$T/not-paired.json")" = not_paired ] || fail "no certificate: $(cat "$T/not-paired.json")"
[ "$(json 'j["message"]' <"$T/not-paired.json")" = "This device is not paired with this Hearth gateway. Ask someone in the household for a pairing code." ] ||
  fail "no certificate: $(cat "$T/not-paired.json")"
for path in /v1/cameras "/v1/cameras/$cam_a/live.mp4" "/v1/cameras/$cam_b/snapshot.jpg" \
    "/v1/cameras/$cam_a/hls/index.m3u8" / /v1/events /favicon.ico "/v1/cameras/$cam_a"; do
  for method in GET POST HEAD; do
    case $method in
      GET) code=$(not_paired "$path") ;;
      POST) code=$(not_paired "$path" -H 'Content-Type: application/json' -d '{"x": 1}') ;;
      HEAD) code=$(not_paired "$path" -I) ;;
    esac
    [ "$code" = "403 1" ] || fail "no certificate, $method $path: $code"
    grep -q $'^HTTP/1.1 403 Forbidden\r$' "$T/np.head" || fail "$method $path: $(head -1 "$T/np.head")"
    grep -qi $'^Connection: close\r$' "$T/np.head" || fail "$method $path: the connection is kept"
    [ "$method" = HEAD ] || cmp -s "$T/np.body" "$T/not-paired.json" ||
      fail "no certificate, $method $path: $(head -c 300 "$T/np.body")"
  done
done
# A browser gets a page that says the same, and nothing more.
[ "$(not_paired "/v1/cameras/$cam_a/live.mp4" -H 'Accept: text/html,*/*;q=0.8')" = "403 1" ] ||
  fail "no certificate, browser: $(head -1 "$T/np.head")"
grep -qi '^Content-Type: text/html' "$T/np.head" || fail "browser: not a page"
grep -q "This device is not paired with this Hearth gateway. Ask someone in the household for a pairing code." \
  "$T/np.body" || fail "browser: $(cat "$T/np.body")"
! leaks || fail "the page names a camera: $(cat "$T/np.body")"
! grep -qi -e '<script' -e 'src=' -e 'href=' "$T/np.body" || fail "the page is not self-contained"
# Two requests, kept alive by the client: the second needs a connection of
# its own, and gets the same answer.
curl -sS --max-time 10 --cacert "$(gateway_cert)" -o /dev/null -w '%{http_code} %{num_connects}\n' \
  "$(url /v1/cameras)" -o "$T/np.second" "$(url /v1/cameras)" >"$T/np.keepalive"
[ "$(tr '\n' ' ' <"$T/np.keepalive")" = "403 1 403 1 " ] ||
  fail "no certificate, kept alive: $(cat "$T/np.keepalive")"
cmp -s "$T/np.second" "$T/not-paired.json" || fail "no certificate, second request: $(cat "$T/np.second")"
# pipelined CAMERA [CERT KEY]: three requests sent at once on one connection
# (with that client certificate, if given): prints how many answers came,
# how many were 403 Forbidden, how many said not_paired, and how often the
# camera's id appeared.
pipelined() {
  python3 - "$STREAM_PORT" "$(gateway_cert)" "$@" <<'PY'
import socket, ssl, sys
port, ca, camera, *identity = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
if identity:
    ctx.load_cert_chain(*identity)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="127.0.0.1")
s.settimeout(10)
s.sendall(b"GET /v1/cameras HTTP/1.1\r\nHost: x\r\n\r\n"
          + f"GET /v1/cameras/{camera}/live.mp4 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
          + b"GET /v1/cameras HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.count(b"HTTP/1.1 "), data.count(b"403 Forbidden"), data.count(b"not_paired"),
      data.count(camera.encode()))
PY
}
# Pipelined on one connection behind a refused request, a request is never
# answered as anyone (the connection ends after the first answer).
pipelined "$cam_a" >"$T/np.pipelined"
[ "$(cat "$T/np.pipelined")" = "1 1 1 0" ] || fail "no certificate, pipelined: $(cat "$T/np.pipelined")"
# Every refusal is logged and audited, at most 20 a minute per peer address
# (then one entry says the rest are not): 30 from 127.0.0.3.
urls=()
for i in $(seq 1 30); do urls+=(-o /dev/null "$(url "/v1/cameras?$i")"); done
curl -sS --max-time 60 --interface 127.0.0.3 --cacert "$(gateway_cert)" \
  -w '%{http_code}\n' "${urls[@]}" >"$T/np.burst"
[ "$(sort -u "$T/np.burst")" = 403 ] && [ "$(wc -l <"$T/np.burst")" = 30 ] ||
  fail "no certificate, 30 requests: $(sort "$T/np.burst" | uniq -c | tr '\n' ' ')"
ctl audit >"$T/np.audit"
[ "$(grep -c "not-paired.*127\.0\.0\.3" "$T/np.audit")" = 21 ] ||
  fail "audited $(grep -c "not-paired.*127\.0\.0\.3" "$T/np.audit") of 30 refusals (want 20 and one that says the rest are not)"
[ "$(grep "not-paired.*127\.0\.0\.3" "$T/np.audit" | grep -c "not audited")" = 1 ] ||
  fail "the audit does not say once that refusals went unaudited"
grep -q "not-paired.*127\.0\.0\.1" "$T/np.audit" || fail "refusals from 127.0.0.1 not audited"
[ "$(grep -c "Refused a request: 127\.0\.0\.3" "$T/hearthd.log")" = 21 ] ||
  fail "logged $(grep -c "Refused a request: 127\.0\.0\.3" "$T/hearthd.log") of 30 refusals (want 21)"
wait "$silent_pid" || fail "the silent connection without a certificate: $(cat "$T/np.silent")"
read -r got after <"$T/np.silent"
[ "$got" = 0 ] && python3 -c "import sys; sys.exit(not 4.5 <= $after <= 7.5)" ||
  fail "a silent connection without a certificate got $got bytes and was closed after $after s"

# A certificate the gateway does not accept (self-signed here; revoked and of
# a deleted household below) is not an identity: the handshake completes as
# if none had been sent, so a browser can tell "removed" from "unreachable",
# and every request gets the same "not paired" answer, nothing else.
# refused_with CERT KEY PATH [CURL ARGS...]: TRUE if PATH was answered only
# that, on a connection closed after it.
refused_with() {
  local cert=$1 key=$2 path=$3 code
  shift 3
  code=$(curl -sS --max-time 10 --cert "$cert" --key "$key" --cacert "$(gateway_cert)"     -D "$T/np.head" -o "$T/np.body" -w '%{http_code}' "$@" "$(url "$path")") || return 1
  [ "$code" = 403 ] && cmp -s "$T/np.body" "$T/not-paired.json" && ! leaks &&
    grep -qi '^connection: close' "$T/np.head"
}
certtool --generate-privkey --key-type ecdsa --outfile "$T/rogue.key" 2>/dev/null
certtool --generate-self-signed --load-privkey "$T/rogue.key" \
  --template <(printf 'cn = rogue\nexpiration_days = 30\ntls_www_client\n') \
  --outfile "$T/rogue.crt" 2>/dev/null
for path in /v1/cameras "/v1/cameras/$cam_a/live.mp4" "/v1/cameras/$cam_a/snapshot.jpg" /; do
  refused_with "$T/rogue.crt" "$T/rogue.key" "$path" ||
    fail "a self-signed certificate, $path: $(head -1 "$T/np.head") $(head -c 300 "$T/np.body")"
done
# Pipelined behind it on that connection, nothing is answered as anyone.
pipelined "$cam_a" "$T/rogue.crt" "$T/rogue.key" >"$T/rogue.pipelined"
[ "$(cat "$T/rogue.pipelined")" = "1 1 1 0" ] || fail "a self-signed certificate, pipelined: $(cat "$T/rogue.pipelined")"
# Refused certificates are logged and audited as every refusal is, at most 20
# a minute per peer (each connection counts its handshake and its request):
# 30 from 127.0.0.4 are 21 lines in the log, not 60.
for i in $(seq 1 30); do
  curl -sS --max-time 10 --interface 127.0.0.4 --cert "$T/rogue.crt" --key "$T/rogue.key" \
    --cacert "$(gateway_cert)" -o /dev/null -w '%{http_code}\n' "$(url "/v1/cameras?$i")"
done >"$T/rogue.burst"
[ "$(sort -u "$T/rogue.burst")" = 403 ] && [ "$(wc -l <"$T/rogue.burst")" = 30 ] ||
  fail "a self-signed certificate, 30 connections: $(sort "$T/rogue.burst" | uniq -c | tr '\n' ' ')"
rogue_logged=$(grep -c -e "Refused a TLS client: 127\.0\.0\.4" -e "Refused a request: 127\.0\.0\.4" "$T/hearthd.log")
[ "$rogue_logged" = 21 ] && grep -q "Refused a TLS client: 127\.0\.0\.4.*unknown certificate" "$T/hearthd.log" ||
  fail "logged $rogue_logged lines for 30 refused certificates (want 21, some of them the certificate's)"

# Three requests on one kept-alive connection, all as alice.
curl_as alice -w '%{http_code} %{num_connects}\n' -o /dev/null \
  "$(url /v1/cameras)" -o /dev/null "$(url /v1/cameras)" -o "$T/third.json" \
  "$(url /v1/cameras)" >"$T/keepalive.log"
cat "$T/keepalive.log"
[ "$(wc -l <"$T/keepalive.log")" -eq 3 ] || fail "expected three answers"
[ "$(awk '{print $1}' "$T/keepalive.log" | sort -u)" = 200 ] || fail "not all 200"
[ "$(awk '{s+=$2} END {print s}' "$T/keepalive.log")" -eq 1 ] ||
  fail "the three requests did not share one connection"
[ "$(json '[c["id"] for c in j["cameras"]]' <"$T/third.json")" = "[\"$cam_a\"]" ] ||
  fail "alice's third request saw $(cat "$T/third.json")"

# Connections do not pile up: keep-alive connections their clients closed are
# released (libsoup 3.2 alone keeps them open), so many short requests never
# run into the connection limit.
no_connections() { [ "$(ctl --json status | json 'j["connections"]')" -eq 0 ]; }
wait_for 20 "closed connections to be released" no_connections
for i in $(seq 1 40); do
  curl_as alice -o /dev/null "$(url /v1/cameras)" || fail "request $i refused"
done
wait_for 20 "40 closed connections to be released" no_connections

# Household B cannot see A's camera: same 404 as a camera that does not exist.
bob_list=$(curl_as bob "$(url /v1/cameras)")
[ "$(json '[c["id"] for c in j["cameras"]]' <<<"$bob_list")" = "[\"$cam_b\"]" ] ||
  fail "bob sees $bob_list"
code_other=$(curl_as bob -o "$T/other.json" -w '%{http_code}' "$(url "/v1/cameras/$cam_a/live.mp4")")
code_none=$(curl_as bob -o "$T/none.json" -w '%{http_code}' \
  "$(url /v1/cameras/00000000-0000-4000-8000-000000000000/live.mp4)")
[ "$code_other" = 404 ] && [ "$code_none" = 404 ] ||
  fail "another household's camera answered $code_other, a missing one $code_none"
cmp -s "$T/other.json" "$T/none.json" || fail "the two 404 answers differ"
[ "$(json 'j["error"]' <"$T/other.json")" = not_found ] || fail "error is not not_found"

# Hostile paths get the same 404, never another camera.
long_id=$(head -c 5000 /dev/zero | tr '\0' 'a')
for path in "/v1/cameras/..%2f..%2f$cam_a/live.mp4" "/v1/cameras/%2e%2e/live.mp4" \
    "/v1/cameras/$cam_a%00/live.mp4" "/v1/cameras//live.mp4" "/v1/../v1/cameras/$cam_a/live.mp4" \
    "/v1/cameras/%ff%fe/live.mp4" "/v1/cameras/$long_id/live.mp4" \
    "/v1/cameras/${cam_a^^}/live.mp4" "/v1/cameras/$cam_b/../$cam_a/live.mp4"; do
  code=$(curl_as bob --max-time 10 --path-as-is -o /dev/null -w '%{http_code}' "$(url "$path")")
  [ "$code" = 404 ] || [ "$code" = 400 ] || fail "$path answered $code"
done

# Idle authenticated connections: alice holds 3 (her cap), a 4th is refused;
# carol, of the same household, gets 2 more (the household's cap of 5), a
# 3rd is refused; bob, of household B, still gets in. Once alice hangs up
# one, she gets in again.
pair_display carol A
client python3 - "$STREAM_PORT" "$T/display-alice" "$T/display-carol" "$T/display-bob" \
  >"$T/caps.json" <<'PY'
import json, socket, ssl, sys, time
port = int(sys.argv[1])
def connect(home):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(f"{home}/display.crt", f"{home}/display.key")
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    s.sendall(b"GET /v1/cameras HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += s.recv(4096)
    head, body = answer.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += s.recv(4096)
    error = json.loads(body).get("message", "") if b" 200 " not in head else ""
    return s, head.split(b" ")[1].decode(), error
alice, carol, bob = sys.argv[2:]
out = {}
held = [connect(alice) for _ in range(4)]
out["alice"] = [c[1] for c in held]
out["alice_refusal"] = held[3][2]
held += [connect(carol) for _ in range(3)]
out["carol"] = [c[1] for c in held[4:]]
out["carol_refusal"] = held[6][2]
out["bob"] = connect(bob)[1]
held[0][0].close()
deadline = time.monotonic() + 10
while True:
    again = connect(alice)[1]
    if again == "200" or time.monotonic() > deadline:
        break
    time.sleep(0.1)
out["alice_again"] = again
print(json.dumps(out))
PY
log "connection caps: $(cat "$T/caps.json")"
caps() { json "j[\"$1\"]" <"$T/caps.json"; }
[ "$(caps alice)" = '["200", "200", "200", "429"]' ] || fail "alice's connections: $(caps alice)"
[ "$(caps alice_refusal)" = "too many connections open for this display" ] ||
  fail "alice's 4th connection: $(caps alice_refusal)"
[ "$(caps carol)" = '["200", "200", "429"]' ] || fail "carol's connections: $(caps carol)"
[ "$(caps carol_refusal)" = "too many connections open for this household" ] ||
  fail "carol's 3rd connection: $(caps carol_refusal)"
[ "$(caps bob)" = 200 ] || fail "household A's connections kept bob out: $(caps bob)"
[ "$(caps alice_again)" = 200 ] || fail "alice hung up one connection and still got $(caps alice_again)"

# Alice watches; revoking her display cuts the stream within a second or so,
# and her certificate is refused from then on.
# A second connection of alice reads slowly, so that the gateway has bytes
# queued for it: a cut must drop them, not let them trickle out.
# (A small receive buffer, so that what it holds cannot hide a late cut.)
python3 - "$STREAM_PORT" "$cam_a" "$(cert_of alice)" "$(key_of alice)" "$(gateway_cert)" \
    "$T/slow.mp4" >"$T/slow.err" 2>&1 <<'PY' &
import socket, ssl, sys, time
port, camera, cert, key, ca, out = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
raw.connect(("127.0.0.1", int(port)))
s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
s.sendall(f"GET /v1/cameras/{camera}/live.mp4 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
with open(out, "wb") as f:
    try:
        while True:
            data = s.recv(2048)
            if not data:
                print("clean end")
                sys.exit(0)
            f.write(data)
            f.flush()
            time.sleep(0.05)
    except (ConnectionResetError, ssl.SSLError) as e:
        print(f"reset: {e}")
        sys.exit(3)
PY
slow_pid=$!
display alice check "$cam_a" --frames 100000 --timeout 120 --expect-stamp "$CAM_ID_a" \
  >"$T/alice-check.log" 2>&1 &
check_pid=$!
wait_for 30 "alice to receive frames" sh -c "[ \$('$BIN_CTL' --state-dir '$T/state' --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"live_streams\"])') -ge 2 ]"
wait_for 30 "the slow reader to fall behind" sh -c "[ \$(stat -c %s '$T/slow.mp4' 2>/dev/null || echo 0) -gt 50000 ]"
alice_id=$(ctl --json display list | json '[d["id"] for d in j["displays"] if d["name"]=="alice"][0]')
ctl display revoke "$alice_id"
revoked_at=$SECONDS
check_rc=0
wait "$check_pid" || check_rc=$?
log "check ended $((SECONDS - revoked_at)) s after the revocation"
[ $check_rc -ne 0 ] || fail "alice's check succeeded after revocation"
slow_rc=0
wait "$slow_pid" || slow_rc=$?
log "slow reader: exit $slow_rc after $((SECONDS - revoked_at)) s, $(stat -c %s "$T/slow.mp4") bytes: $(cat "$T/slow.err")"
[ $slow_rc -eq 0 ] || [ $slow_rc -eq 3 ] || fail "the slow reader failed: $(cat "$T/slow.err")"
[ $((SECONDS - revoked_at)) -le 5 ] || fail "streams were not cut promptly"
grep -q "FAILED" "$T/alice-check.log" || fail "check did not report the cut"
for path in /v1/cameras "/v1/cameras/$cam_a/live.mp4" "/v1/cameras/$cam_a/snapshot.jpg"; do
  # From an address of its own: 127.0.0.1 used its minute's log lines.
  refused_with "$(cert_of alice)" "$(key_of alice)" "$path" --interface 127.0.0.5 ||
    fail "a revoked display, $path: $(head -1 "$T/np.head") $(head -c 300 "$T/np.body")"
done
grep -q "Refused a TLS client: 127\.0\.0\.5.*a revoked display's certificate" "$T/hearthd.log" ||
  fail "the revoked display's refusal is not logged"
# hearth-display says what that means for it.
rc=0; display alice list >"$T/revoked-list.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q "this display was removed from the household or is not paired; pair it again" \
  "$T/revoked-list.log" || fail "hearth-display, revoked (exit $rc): $(cat "$T/revoked-list.log")"
ctl display list | grep -q "revoked" || fail "display list does not show the revocation"

# Bob is untouched.
display bob check "$cam_b" --frames 10 --expect-stamp "$CAM_ID_b" >/dev/null ||
  fail "bob's stream broke"

# Deleting household B cuts bob's stream and refuses his certificate at once.
display bob check "$cam_b" --frames 100000 --timeout 120 >"$T/bob-check.log" 2>&1 &
bob_pid=$!
wait_for 30 "bob to receive frames" sh -c "[ \$('$BIN_CTL' --state-dir '$T/state' --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"live_streams\"])') -ge 1 ]"
ctl household delete B
bob_rc=0
wait "$bob_pid" || bob_rc=$?
[ $bob_rc -ne 0 ] || fail "bob's stream survived the deletion of his household"
refused_with "$(cert_of bob)" "$(key_of bob)" /v1/cameras ||
  fail "a display of a deleted household: $(head -1 "$T/np.head") $(head -c 300 "$T/np.body")"
[ "$(ctl --json camera list | json '[c["id"] for c in j["cameras"]]')" = "[\"$cam_a\"]" ] ||
  fail "household B's camera outlived its household"

ctl audit | tee "$T/audit.log"
grep -q "revoke" "$T/audit.log" || fail "no audit entry for the revocation"
grep -q "access-denied" "$T/audit.log" || fail "no audit entry for refused access"

stop_gateway
log "ok"
