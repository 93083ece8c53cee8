#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Pairing a browser from the QR code's https:// link, as a phone would, with
# curl and python3: the page, the form, the sealed identity (PKCS#12 and the
# Apple profile), then the stream port with that identity. Then the attacker
# on the LAN who relays the link and everything the browser sends: it pairs
# first, and gets a file it cannot open without the code; the victim is told
# the link was used. Expired and unknown links name no household; hostile
# forms get a clear 4xx and change nothing. hearth-display pairs from the
# same link and from the older hearth:// form.
source "$(dirname "$0")/lib.sh"

start_gateway
ctl household add Home
ctl household add Other
ctl camera add --household Home --name Door rtsp://127.0.0.1:9/door >/dev/null
ctl camera add --household Other --name Garden rtsp://127.0.0.1:9/garden >/dev/null

displays() { ctl --json display list | json 'len(j["displays"])'; }

# open_window TTL: sets LINK, CODE, TOKEN, PAIR (the pairing port's base URL).
open_window() {
  ctl --json pair --household Home --ttl "$1" --print-payload >"$T/window.json"
  LINK=$(json 'j["payload"]' <"$T/window.json")
  CODE=$(json 'j["code"]' <"$T/window.json")
  TOKEN=$(sed -n 's/.*[?&]t=\([0-9a-f]*\).*/\1/p' <<<"$LINK")
  PAIR=$(sed -n 's|^\(https://[^/]*\)/pair?.*|\1|p' <<<"$LINK")
  [ -n "$TOKEN" ] && [ -n "$PAIR" ] || fail "not a pairing link: $LINK"
  [[ "$CODE" =~ ^[02-9a-hjkmnp-z]{4}-[02-9a-hjkmnp-z]{4}-[02-9a-hjkmnp-z]{4}$ ]] ||
    fail "not a one-time code: $CODE"
  ALL_CODES+=("$CODE")
}
ALL_CODES=()

# get AS NAME URL: a browser's GET from source address AS (each peer has its
# own failure budget); the body in $T/NAME.html, the headers in
# $T/NAME.headers; prints the status.
get() {
  client curl -sk --interface "$1" -D "$T/$2.headers" -o "$T/$2.html" -w '%{http_code}' "$3"
}
# post AS NAME BODY [CURL ARGS...]: the form, as a browser posts it.
post() {
  local as=$1 name=$2 body=$3
  shift 3
  client curl -sk --interface "$as" -D "$T/$name.headers" -o "$T/$name.html" -w '%{http_code}' \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$body" "$@" "$PAIR/pair"
}
header() { grep -i "^$2:" "$T/$1.headers" | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
gone_page() {
  [ "$1" = 410 ] || fail "$2: status $1, not 410"
  grep -q "was used or has expired" "$T/$2.html" || fail "$2: unclear page: $(cat "$T/$2.html")"
  ! grep -q "Home" "$T/$2.html" || fail "$2: the page names the household"
}

# --- a whole pairing from a phone's browser ------------------------------------------

open_window 10m
log "link: $LINK"
[[ "$LINK" == https://127.0.0.1:*/pair\?v=1\&fp=*\&t=$TOKEN\&n=* ]] || fail "link form: $LINK"
[[ "$LINK" != *"$CODE"* ]] || fail "the code is in the link"

status=$(get 127.0.0.1 page "$LINK")
[ "$status" = 200 ] || fail "the link's page: $status"
grep -q "Home" "$T/page.html" || fail "the page does not name the household"
grep -q "name=\"t\" value=\"$TOKEN\"" "$T/page.html" || fail "the form does not carry the token"
[ "$(header page cache-control)" = no-store ] || fail "page cached: $(header page cache-control)"
[[ "$(header page content-security-policy)" == "default-src 'none'; style-src 'self'"* ]] ||
  fail "CSP: $(header page content-security-policy)"
[ "$(header page x-frame-options)" = DENY ] || fail "X-Frame-Options"
[ "$(header page referrer-policy)" = no-referrer ] || fail "Referrer-Policy"
status=$(get 127.0.0.1 style "$PAIR/pair/style.css")
[ "$status" = 200 ] && [[ "$(header style content-type)" == text/css* ]] || fail "stylesheet: $status"

# The form as a browser sends it: a name with spaces, a non-ASCII letter and
# markup, which every page and the profile must show as text.
form="t=$TOKEN&name=K%C3%BCche+%3Ctablet%3E+%26+co"
status=$(post 127.0.0.1 done "$form")
[ "$status" = 200 ] || fail "pairing from the form: $status $(cat "$T/done.html")"
grep -q "is paired with" "$T/done.html" || fail "no confirmation: $(cat "$T/done.html")"
grep -qF "Küche &lt;tablet&gt; &amp; co" "$T/done.html" || fail "the name is not shown as text"
! grep -qF "<tablet>" "$T/done.html" || fail "the name was taken as markup"
grep -q "https://127.0.0.1:$STREAM_PORT/" "$T/done.html" || fail "the page does not say where to watch"
for platform in Android "iPhone and iPad" Mac "Windows and Linux"; do
  grep -q "<h2>[^<]*$platform" "$T/done.html" || fail "no steps for $platform"
done
id=$(grep -o '/pair/d/[0-9a-f]\{32\}/hearth.p12' "$T/done.html" | head -1 | cut -d/ -f4)
[ -n "$id" ] || fail "no download link"
d="$PAIR/pair/d/$id"
[ "$(get 127.0.0.1 p12 "$d/hearth.p12")" = 200 ] || fail "hearth.p12"
[ "$(header p12 content-type)" = application/x-pkcs12 ] || fail "p12 type $(header p12 content-type)"
[ "$(get 127.0.0.1 profile "$d/hearth.mobileconfig")" = 200 ] || fail "hearth.mobileconfig"
[ "$(header profile content-type)" = application/x-apple-aspen-config ] || fail "profile type"
[ "$(get 127.0.0.1 ca "$d/ca.crt")" = 200 ] || fail "ca.crt"
[ "$(header ca content-type)" = application/x-x509-ca-cert ] || fail "ca.crt type"
[ "$(header p12 cache-control)" = no-store ] || fail "download cached"

# Opens with the code (GnuTLS's certtool, then Python's own PKCS#12 reader):
# a key and a certificate issued by the household's CA, plus the gateway's.
client certtool --p12-info --inder --infile "$T/p12.html" --password "$CODE" >"$T/p12.info" 2>&1 ||
  fail "certtool cannot open hearth.p12 with the code: $(cat "$T/p12.info")"
grep -q "PKCS #8 Encrypted key" "$T/p12.info" || fail "no key in hearth.p12"
# NSS, the store of Chromium and Firefox, imports it with the code.
mkdir "$T/nssdb"
client certutil -N --empty-password -d "sql:$T/nssdb"
client pk12util -i "$T/p12.html" -d "sql:$T/nssdb" -W "$CODE" >"$T/pk12util.log" 2>&1 ||
  fail "pk12util cannot import hearth.p12: $(cat "$T/pk12util.log")"
client certutil -L -d "sql:$T/nssdb" | grep -q "Hearth display" || fail "NSS lists no Hearth identity"
python3 - "$T" "$CODE" <<'EOF' || fail "hearth.p12 does not hold the identity"
import sys, sqlite3, glob, os
from cryptography.hazmat.primitives.serialization import pkcs12, Encoding, PrivateFormat, NoEncryption
from cryptography import x509
t, code = sys.argv[1], sys.argv[2]
key, cert, extra = pkcs12.load_key_and_certificates(open(t + "/p12.html", "rb").read(), code.encode())
assert key is not None and cert is not None, "key or certificate missing"
ca_der = open(t + "/ca.html", "rb").read()
gateway = x509.load_pem_x509_certificate(open(t + "/state/ca.crt", "rb").read())
assert ca_der == gateway.public_bytes(Encoding.DER), "ca.crt is not the gateway's root CA"
assert [c.public_bytes(Encoding.DER) for c in extra] == [ca_der], "the p12 lacks the gateway's root CA"
db = [p for p in glob.glob(t + "/state/*") if os.path.isfile(p) and open(p, "rb").read(16) == b"SQLite format 3\0"][0]
ca_pem = sqlite3.connect(db).execute("SELECT ca_cert_pem FROM households WHERE name='Home'").fetchone()[0]
# Issued by the household's CA: its name, and its signature (Debian 12's
# python3-cryptography has no verify_directly_issued_by yet).
from cryptography.hazmat.primitives.asymmetric import ec
household_ca = x509.load_pem_x509_certificate(ca_pem.encode())
assert cert.issuer == household_ca.subject, "issued by another name"
household_ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                 ec.ECDSA(cert.signature_hash_algorithm))
open(t + "/browser.key", "wb").write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
open(t + "/browser.crt", "wb").write(cert.public_bytes(Encoding.PEM))
EOF

# The stream port knows the browser by that identity: its household's cameras only.
client curl -sS --cert "$T/browser.crt" --key "$T/browser.key" --cacert "$(gateway_cert)" \
  "https://127.0.0.1:$STREAM_PORT/v1/cameras" >"$T/cameras.json" || fail "the stream port refused the browser"
[ "$(json '[c["name"] for c in j["cameras"]]' <"$T/cameras.json")" = '["Door"]' ] ||
  fail "the browser sees: $(cat "$T/cameras.json")"
ctl --json display list >"$T/displays.json"
browser_id=$(json '[d["id"] for d in j["displays"] if d["name"] == "Küche <tablet> & co"][0]' <"$T/displays.json") ||
  fail "the display is not listed by its name: $(cat "$T/displays.json")"

# The Apple profile: the gateway's certificate as a root payload and the
# identity as a pkcs12 payload that asks for the code (no password inside).
python3 - "$T" "$CODE" <<'EOF' || fail "hearth.mobileconfig is not the profile"
import sys, plistlib, uuid
from cryptography.hazmat.primitives.serialization import pkcs12
t, code = sys.argv[1], sys.argv[2]
profile = plistlib.load(open(t + "/profile.html", "rb"))
assert profile["PayloadType"] == "Configuration"
types = {p["PayloadType"]: p for p in profile["PayloadContent"]}
assert sorted(types) == ["com.apple.security.pkcs12", "com.apple.security.root"], types.keys()
assert types["com.apple.security.root"]["PayloadContent"] == open(t + "/ca.html", "rb").read()
identity = types["com.apple.security.pkcs12"]
assert "Password" not in identity
key, cert, _ = pkcs12.load_key_and_certificates(identity["PayloadContent"], code.encode())
assert cert.public_bytes(pkcs12.serialization.Encoding.PEM) == open(t + "/browser.crt", "rb").read()
ids = [profile["PayloadUUID"]] + [p["PayloadUUID"] for p in profile["PayloadContent"]]
assert len({str(uuid.UUID(i)) for i in ids}) == 3
EOF

# The same form again (a replay, or the back button): the link was used.
gone_page "$(post 127.0.0.1 replay "$form")" replay
gone_page "$(get 127.0.0.1 again "$LINK")" again
[ "$(displays)" -eq 1 ] || fail "a replay wrote a display"

# Revoking the browser's display shuts the stream port to it: its certificate
# still completes the handshake (so the page can say it was removed), and gets
# the "not paired" answer and nothing else.
ctl display revoke "$browser_id" >/dev/null
code=$(client curl -sS --max-time 10 --cert "$T/browser.crt" --key "$T/browser.key" \
  --cacert "$(gateway_cert)" -o "$T/revoked.json" -w '%{http_code}' \
  "https://127.0.0.1:$STREAM_PORT/v1/cameras") || code=failed
[ "$code" = 403 ] && [ "$(json 'j["error"]' <"$T/revoked.json")" = not_paired ] &&
  ! grep -q '"cameras"' "$T/revoked.json" ||
  fail "a revoked browser: $code $(cat "$T/revoked.json")"

# --- the attacker on the LAN ------------------------------------------------------
# It saw the QR code's link and relays everything the victim's browser sends;
# it redeems first, from its own address.
open_window 10m
status=$(get 127.0.0.3 evil-page "$LINK")
[ "$status" = 200 ] || fail "attacker's GET: $status"
status=$(post 127.0.0.3 evil "t=$TOKEN&name=Evil")
[ "$status" = 200 ] || fail "attacker's POST: $status"
evil_id=$(grep -o '/pair/d/[0-9a-f]\{32\}/' "$T/evil.html" | head -1 | cut -d/ -f4)
[ "$(get 127.0.0.3 evil-p12 "$PAIR/pair/d/$evil_id/hearth.p12")" = 200 ] || fail "attacker's p12"
[ "$(get 127.0.0.3 evil-profile "$PAIR/pair/d/$evil_id/hearth.mobileconfig")" = 200 ] ||
  fail "attacker's profile"
# Without the code the file opens to nothing: not with a wrong code or the
# link's token (certtool), not with none (Python), nor the profile's copy.
for guess in "abcd-efgh-jkmn" "$TOKEN"; do
  if client certtool --p12-info --inder --infile "$T/evil-p12.html" --password "$guess" \
      >"$T/evil.info" 2>&1; then
    fail "hearth.p12 opened with “$guess”"
  fi
  ! grep -q "BEGIN CERTIFICATE\|BEGIN PRIVATE KEY\|BEGIN EC PRIVATE KEY" "$T/evil.info" ||
    fail "certtool showed contents for “$guess”"
done
python3 - "$T" "$TOKEN" <<'EOF' || fail "the attacker's files open without the code"
import sys, plistlib
from cryptography.hazmat.primitives.serialization import pkcs12
t, token = sys.argv[1], sys.argv[2]
p12 = open(t + "/evil-p12.html", "rb").read()
profile = plistlib.load(open(t + "/evil-profile.html", "rb"))
inner = [p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.security.pkcs12"][0]
for blob in (p12, inner["PayloadContent"]):
    for password in (None, token.encode()):
        try:
            pkcs12.load_key_and_certificates(blob, password)
        except ValueError:
            continue
        raise SystemExit("opened with %r" % password)
EOF
# Holding no identity, it is refused by the stream port like anyone else.
code=$(client curl -sk --interface 127.0.0.3 -o "$T/attacker-cameras.json" -w '%{http_code}' \
  "https://127.0.0.1:$STREAM_PORT/v1/cameras" 2>/dev/null) || true
if [ "$code" != 403 ] || ! grep -q '"not_paired"' "$T/attacker-cameras.json" ||
    grep -q 'Door\|Garden' "$T/attacker-cameras.json"; then
  fail "the stream port answered without an identity: $code $(cat "$T/attacker-cameras.json")"
fi
# The victim, a moment later: the link was used, and the household is not named.
gone_page "$(get 127.0.0.1 victim-page "$LINK")" victim-page
gone_page "$(post 127.0.0.1 victim "t=$TOKEN&name=Mine")" victim
# The admin sees who paired, and can revoke it.
ctl --json display list | json '[d["name"] for d in j["displays"] if not d.get("revoked")]' | grep -q Evil ||
  fail "the attacker's display is not shown to the admin"

# --- expired and unknown links ---------------------------------------------------------

ctl pair --household Home --ttl 1s >"$T/short.log" 2>&1 &
short_pid=$!
wait_for 10 "the short window's link" grep -q '^https://.*/pair?' "$T/short.log"
short=$(grep -m1 '^https://.*/pair?' "$T/short.log")
grep -q "^Code for phones and browsers: [0-9a-z]\{4\}-[0-9a-z]\{4\}-[0-9a-z]\{4\}$" "$T/short.log" ||
  fail "hearthctl pair does not print the code: $(cat "$T/short.log")"
ALL_CODES+=("$(sed -n 's/^Code for phones and browsers: //p' "$T/short.log")")
rc=0; wait "$short_pid" || rc=$?
[ $rc -eq 1 ] || fail "hearthctl pair did not report expiry (exit $rc)"
short_token=$(sed -n 's/.*[?&]t=\([0-9a-f]*\).*/\1/p' <<<"$short")
gone_page "$(get 127.0.0.4 expired "$short")" expired
gone_page "$(post 127.0.0.4 expired-post "t=$short_token&name=Late")" expired-post
gone_page "$(get 127.0.0.4 unknown "${LINK/t=$TOKEN/t=0123456789abcdef0123456789abcdef}")" unknown

# --- hostile forms: a clear 4xx, nothing changes ---------------------------------------

open_window 10m
before=$(displays)
long=$(head -c 200 /dev/zero | tr '\0' 'x')
expect_4xx() {
  local want=$1 name=$2 status
  shift 2
  status=$("$@")
  [ "$status" = "$want" ] || fail "$name: status $status, not $want: $(cat "$T/$name.html")"
  grep -q "<h1>" "$T/$name.html" || fail "$name: no page"
}
expect_4xx 400 long-name post 127.0.0.5 long-name "t=$TOKEN&name=$long"
expect_4xx 400 control post 127.0.0.5 control "t=$TOKEN&name=a%01b"
expect_4xx 400 empty-name post 127.0.0.5 empty-name "t=$TOKEN&name="
expect_4xx 400 bad-encoding post 127.0.0.5 bad-encoding "t=$TOKEN&name=%zz"
expect_4xx 400 bad-utf8 post 127.0.0.5 bad-utf8 "t=$TOKEN&name=%ff%fe"
expect_4xx 400 nul-name post 127.0.0.6 nul-name "t=$TOKEN&name=Ho%00me"
grep -q "NUL character" "$T/nul-name.html" || fail "nul-name: $(cat "$T/nul-name.html")"
expect_4xx 400 bad-token post 127.0.0.5 bad-token "t=xyz&name=ok"
expect_4xx 400 json-body post 127.0.0.6 json-body "{\"t\":\"$TOKEN\"}" -H 'Content-Type: application/json'
head -c 40000 /dev/zero | tr '\0' 'x' >"$T/huge.txt"
expect_4xx 413 huge post 127.0.0.6 huge "@$T/huge.txt"
expect_4xx 404 bad-id get 127.0.0.6 bad-id "$PAIR/pair/d/zz/hearth.p12"
expect_4xx 404 unknown-id get 127.0.0.6 unknown-id "$PAIR/pair/d/0123456789abcdef0123456789abcdef/hearth.p12"
expect_4xx 404 bad-file get 127.0.0.6 bad-file "$PAIR/pair/d/$evil_id/passwd"
expect_4xx 405 put-page client curl -sk --interface 127.0.0.6 -o "$T/put-page.html" -w '%{http_code}' \
  -X PUT "$PAIR/pair"
[ "$(displays)" -eq "$before" ] || fail "hostile input wrote a display"
# Failed pairings count against the peer: it is soon answered 429.
limited=0
for i in $(seq 1 12); do
  status=$(post 127.0.0.5 guess "t=0123456789abcdef0123456789abcdef&name=guess")
  if [ "$status" = 429 ]; then limited=$i; break; fi
  [ "$status" = 410 ] || fail "guess $i: $status"
done
[ $limited -gt 0 ] || fail "failed pairings from one peer were never slowed down"
log "rate limited after $limited more guesses"
# The window still pairs: nothing above spent it.
status=$(post 127.0.0.1 after "t=$TOKEN&name=After")
[ "$status" = 200 ] || fail "the window no longer pairs after hostile input: $status"

# --- hearth-display pairs from the same link, and from the hearth:// form ------------

open_window 10m
display link pair "$LINK" --name link >"$T/display-link.log" 2>&1 ||
  fail "hearth-display with the https link: $(cat "$T/display-link.log")"
open_window 10m
old="hearth://pair?v=1&fp=$(sed -n 's/.*[?&]fp=\([0-9a-f]*\).*/\1/p' <<<"$LINK")&a=${PAIR#https://}&t=$TOKEN&n=x"
display old pair "$old" --name old >"$T/display-old.log" 2>&1 ||
  fail "hearth-display with the hearth:// form: $(cat "$T/display-old.log")"
display old list >/dev/null || fail "the display paired from hearth:// lists nothing"

# --- the codes never leave the terminal -------------------------------------------------

ctl audit --since 1h >"$T/audit.txt"
for code in "${ALL_CODES[@]}"; do
  for f in "$T/hearthd.log" "$T/audit.txt" "$T"/*.html "$T"/*.headers; do
    ! grep -qF "$code" "$f" || fail "the code $code is in $(basename "$f")"
  done
done

stop_gateway
! grep -qF "${ALL_CODES[0]}" "$T/hearthd.log" || fail "the code is in the log"
log "ok"
