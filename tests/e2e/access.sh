#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Who may see what over the stream port: no certificate → refused; three
# requests on one kept-alive connection are all the same display; a display
# of household B gets 404 for household A's camera, exactly like a camera that
# does not exist; revoking a display cuts its open stream and refuses it after.
source "$(dirname "$0")/lib.sh"

start_camera a
start_camera b
start_gateway

ctl household add A
ctl household add B
cam_a=$(ctl camera add --household A --name Door "$CAM_URL_a")
cam_b=$(ctl camera add --household B --name Yard "$CAM_URL_b")
pair_display alice A
pair_display bob B
wait_for 30 "cameras to stream" sh -c "[ \$('$BIN_CTL' --state-dir '$T/state' camera list | grep -c streaming) -eq 2 ]"

# No client certificate: the TLS connection is refused.
if curl -sS --cacert "$(gateway_cert)" "$(url /v1/cameras)" >"$T/nocert.out" 2>"$T/nocert.err"; then
  fail "a request without a client certificate was answered: $(cat "$T/nocert.out")"
fi
log "no certificate: $(cat "$T/nocert.err")"

# A certificate that no household issued (self-signed) is refused too.
certtool --generate-privkey --key-type ecdsa --outfile "$T/rogue.key" 2>/dev/null
certtool --generate-self-signed --load-privkey "$T/rogue.key" \
  --template <(printf 'cn = rogue\nexpiration_days = 30\ntls_www_client\n') \
  --outfile "$T/rogue.crt" 2>/dev/null
if curl -sS --cert "$T/rogue.crt" --key "$T/rogue.key" --cacert "$(gateway_cert)" \
    "$(url /v1/cameras)" >/dev/null 2>&1; then
  fail "a self-signed certificate was accepted"
fi

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
if curl_as alice "$(url /v1/cameras)" >/dev/null 2>&1; then
  fail "a revoked display was answered"
fi
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
if curl_as bob "$(url /v1/cameras)" >/dev/null 2>&1; then
  fail "a display of a deleted household was answered"
fi
[ "$(ctl --json camera list | json '[c["id"] for c in j["cameras"]]')" = "[\"$cam_a\"]" ] ||
  fail "household B's camera outlived its household"

ctl audit | tee "$T/audit.log"
grep -q "revoke" "$T/audit.log" || fail "no audit entry for the revocation"
grep -q "access-denied" "$T/audit.log" || fail "no audit entry for refused access"

stop_gateway
log "ok"
