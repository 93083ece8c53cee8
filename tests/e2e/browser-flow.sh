#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A browser with no display certificate (the gateway's CA trusted) opening
# the viewer gets the "not paired" page and nothing else: no camera name, no
# script of the viewer.
#
# A person pairs a browser, in a real headless Chromium, the way the pairing
# page tells them to: a browser as it comes (an empty NSS database, no trust
# in the gateway) opens the QR code's https:// link and clicks through the
# one-time warning about the gateway's certificate (for that session only:
# Chromium's --ignore-certificate-errors-spki-list with the key of the
# certificate the QR code pins, and nothing else); the page names
# the household; the display name is typed into the form and sent through
# the page; hearth.p12 and ca.crt are saved by clicking the page's links
# (Chromium's own downloads); the identity is imported with pk12util and the
# one-time code that `hearthctl pair` printed, the CA is trusted for
# websites; the browser starts again on that profile and plays the
# household's camera (green, read from a canvas). Revoking the display while
# it plays stops the video within 1 s and the page says the display was
# removed; opened again, it gets the "not paired" page.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/browser.sh"

start_camera a --pattern green
start_gateway
ctl household add Home
ctl camera add --household Home --name Door "$CAM_URL_a" >/dev/null

ctl --json pair --household Home --ttl 10m --print-payload >"$T/window.json"
LINK=$(json 'j["payload"]' <"$T/window.json")
CODE=$(json 'j["code"]' <"$T/window.json")
[[ "$LINK" == https://127.0.0.1:*/pair\?* ]] || fail "not a pairing link: $LINK"

# --- a browser with no display certificate ---------------------------------------
browser_start stranger -
trust_gateway "$T/browser-stranger/.pki/nssdb" "$T/state"
browser_stop stranger
browser_launch stranger chromium
browser stranger open "$(url /)" >/dev/null
browser_wait stranger 20 "the not-paired page" \
  'document.body.innerText.includes("not paired")' >/dev/null
[ "$(browser stranger eval 'performance.getEntriesByType("navigation")[0].responseStatus')" = 403 ] ||
  fail "the not-paired page is not a 403"
# Nothing but the page (the browser may ask for a favicon by itself).
JS_LOADED='performance.getEntriesByType("resource").map((e) => e.name).filter((n) => !n.endsWith("/favicon.ico"))'
[ "$(browser stranger eval "document.scripts.length + $JS_LOADED.length")" = 0 ] ||
  fail "the not-paired page loaded more: $(browser stranger eval "$JS_LOADED.join(\" \")")"
! browser stranger eval 'document.documentElement.outerHTML' | grep -q -e Door -e "$CAM_ID_a" ||
  fail "the not-paired page names the camera"
browser_stop stranger

# --- pairing, in the browser ---------------------------------------------------
spki=$(openssl x509 -in "$T/state/gateway.crt" -pubkey -noout |
  openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
browser_start tablet - chromium --ignore-certificate-errors-spki-list="$spki"
browser tablet open "$LINK" >/dev/null
browser_wait tablet 20 "the pairing page to name the household" \
  'document.querySelector("form") && document.body.innerText.includes("Home")' >/dev/null
browser tablet eval 'document.getElementById("name").value = "tablet";
  document.querySelector("form button[type=submit]").click(); true' >/dev/null
browser_wait tablet 20 "the page to say the browser is paired" \
  'document.body.innerText.includes("is paired with") &&
   document.querySelector("a[href$=\"/hearth.p12\"]") !== null' >/dev/null
mkdir "$T/downloads"
browser tablet downloads "$T/downloads" >/dev/null
for file in hearth.p12 ca.crt; do
  browser tablet eval "document.querySelector('a[href\$=\"/$file\"]').click(); true" >/dev/null
  wait_for 20 "Chromium to save $file" test -s "$T/downloads/$file"
done
browser_stop tablet
wait_for 10 "the downloads to be complete" sh -c "! ls '$T/downloads' | grep -q crdownload"
log "paired in the page; saved $(ls "$T/downloads" | tr '\n' ' ')"

# --- the person imports what they saved, and opens the viewer ------------------
nssdb=$T/browser-tablet/.pki/nssdb
pk12util -i "$T/downloads/hearth.p12" -d "sql:$nssdb" -W "$CODE" >"$T/pk12util.log" 2>&1 ||
  fail "pk12util cannot import the downloaded hearth.p12 with the code: $(cat "$T/pk12util.log")"
trust_gateway "$nssdb" "$T/downloads"
browser_launch tablet chromium
browser tablet open "$(url /)" >/dev/null
JS_NAMES='document.body.dataset.state === "listing" && Array.from(document.querySelectorAll(".camera .name"), (e) => e.textContent).join(",")'
[ "$(browser_wait tablet 30 "the household's camera in the list" "$JS_NAMES")" = '"Door"' ] ||
  fail "the viewer lists $(browser tablet eval "$JS_NAMES")"
browser tablet eval 'document.querySelector(".camera").click(); true' >/dev/null
browser_wait tablet 30 "the camera to play" \
  "document.body.dataset.state === \"playing\" && $JS_VIDEO_COLOUR" >/dev/null
colour=$(browser_colour tablet)
[ "$colour" = green ] || fail "the camera plays $colour, not green"
log "the paired browser plays the household's camera ($colour)"

revoke_while_playing tablet
browser tablet open "$(url /)" >/dev/null
browser_wait tablet 20 "the removed browser to get the not-paired page" \
  'document.body.innerText.includes("not paired") && document.scripts.length === 0' >/dev/null
! browser tablet eval 'document.documentElement.outerHTML' | grep -q Door ||
  fail "the removed browser was shown the camera's name"

stop_gateway
log "ok"
