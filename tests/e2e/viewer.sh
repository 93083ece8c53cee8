#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The viewer in real browsers, two households on one gateway; alice's display
# is a headless Chromium, bob's a headless Firefox. Each page lists and plays
# only its own household's camera (told apart by colour), with sound where
# the camera sends AAC (bob's) or G.711, transcoded to AAC (alice's); the other household's camera id in the page's URL is
# the same 404 as a missing camera; a camera that goes offline is said to be,
# and its restart (a new generation) is followed without a reload; a hidden
# page streams nothing; revoking the display stops its video within 1 s and
# the page says so.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/browser.sh"

start_camera a --pattern red --audio pcma
start_camera b --pattern blue --audio aac
start_gateway

ctl household add A
ctl household add B
cam_a=$(ctl camera add --household A --name Door "$CAM_URL_a")
cam_b=$(ctl camera add --household B --name Yard "$CAM_URL_b")
pair_display alice A
pair_display bob B
browser_start alice alice
browser_start bob bob firefox

# The page and its files: served only through the access check, with a
# strict policy.
headers=$(curl_as alice -sS -D - -o "$T/index.html" "$(url /)")
grep -qi '^content-type: text/html' <<<"$headers" || fail "/ is not HTML: $headers"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self';" <<<"$headers" ||
  fail "no strict CSP on /: $headers"
grep -qi '^x-content-type-options: nosniff' <<<"$headers" || fail "no nosniff on /"
grep -qi '^cache-control: no-store' <<<"$headers" || fail "/ may be cached"
[ "$(curl_as alice -o /dev/null -w '%{content_type}' "$(url /app/player.js)")" = \
  "text/javascript; charset=utf-8" ] || fail "player.js is not served as JavaScript"
for path in /app/missing.js /app/web.gresource.xml /index.html /app/../index.html \
    /app/%2e%2e/index.html /app//viewer.js /app/.hidden.js; do
  code=$(curl_as alice --path-as-is -o /dev/null -w '%{http_code}' "$(url "$path")")
  [ "$code" = 404 ] || fail "$path answered $code"
done
# Without a certificate: only the "not paired" page, never the viewer.
code=$(curl -sS --cacert "$(gateway_cert)" -H 'Accept: text/html' -o "$T/unpaired.html" \
  -w '%{http_code}' "$(url /)" 2>/dev/null) || true
if [ "$code" != 403 ] || ! grep -q "not paired" "$T/unpaired.html" ||
    grep -q "viewer.js" "$T/unpaired.html"; then
  fail "the viewer was served without a client certificate: $code"
fi

# Each page lists its own household's camera, by name, and nothing else.
for b in alice bob; do browser "$b" open "$(url /)" >/dev/null; done
JS_NAMES='document.body.dataset.state === "listing" && Array.from(document.querySelectorAll(".camera .name"), (e) => e.textContent).join(",")'
[ "$(browser_wait alice 30 "alice's list" "$JS_NAMES")" = '"Door"' ] || fail "alice lists $(browser alice eval "$JS_NAMES")"
[ "$(browser_wait bob 30 "bob's list" "$JS_NAMES")" = '"Yard"' ] || fail "bob lists $(browser bob eval "$JS_NAMES")"
# Snapshots come once the cameras stream.
browser_wait alice 30 "a snapshot in alice's grid" \
  'document.querySelector(".camera img")?.complete && document.querySelector(".camera img").naturalWidth > 0' >/dev/null

# A tap opens the camera live; bob's by its link.
browser alice eval 'document.querySelector(".camera").click()' >/dev/null
browser bob open "$(url "/#camera=$cam_b")" >/dev/null
JS_PLAYING='document.body.dataset.state === "playing" && document.querySelector("video").currentTime > 0'
browser_wait alice 30 "alice's camera to play" "$JS_PLAYING" >/dev/null
browser_wait bob 30 "bob's camera to play" "$JS_PLAYING" >/dev/null
[ "$(browser_colour alice)" = red ] || fail "alice's camera is not red: $(browser alice eval "$JS_VIDEO_COLOUR")"
[ "$(browser_colour bob)" = blue ] || fail "bob's camera is not blue: $(browser bob eval "$JS_VIDEO_COLOUR")"
# Bob's camera sends AAC, alice's G.711 (the gateway makes it AAC): both
# pages play them with sound (the browser may autoplay with sound here).
JS_SOUND='(() => { const v = document.querySelector("video");
  return !v.muted && (v.webkitAudioDecodedByteCount > 0 || v.mozHasAudio === true); })()'
browser_wait alice 10 "alice's page to play the G.711 camera's sound" "$JS_SOUND" >/dev/null
browser_wait bob 10 "bob's page to play sound" "$JS_SOUND" >/dev/null
log "alice plays red, bob plays blue, both with sound"

# Bob's page, pointed at alice's camera, is told what a missing camera is
# told: the same 404, and the page says not found.
missing=00000000-0000-4000-8000-000000000000
same=$(browser bob eval "Promise.all([\"$cam_a\", \"$missing\"].map((id) => fetch(\`/v1/cameras/\${id}/live.mp4\`).then(async (r) => r.status + \" \" + await r.text()))).then(([o, m]) => o === m && o)")
[ "${same:0:5}" = '"404 ' ] || fail "another household's camera and a missing one answered: $same"
browser bob open "$(url "/#camera=$cam_a")" >/dev/null
browser_wait bob 20 "bob's page to say not found" \
  'document.body.dataset.state === "notfound" && document.querySelector("video").readyState === 0' >/dev/null
[ "$(browser bob eval 'document.getElementById("status").textContent')" = '"Camera not found."' ] ||
  fail "bob's page does not say the camera was not found"
browser bob open "$(url "/#camera=$missing")" >/dev/null
browser_wait bob 20 "bob's page to say not found (missing camera)" \
  'document.body.dataset.state === "notfound"' >/dev/null

# A camera restart is a new generation: the page says the camera is offline
# while it is, and follows the new generation when it is back, no reload.
browser alice eval 'window.hearthNoReload = true' >/dev/null
port_a=${CAM_URL_a##*:}
port_a=${port_a%%/*}
gen_a=$(ctl --json camera stats "$cam_a" | json 'j["generation"]')
kill "$CAM_PID_a"
browser_wait alice 30 "alice's page to say the camera is offline" \
  'document.body.dataset.state === "offline" && document.querySelector("video").readyState === 0' >/dev/null
start_camera a --pattern green --port "$port_a"
new_gen() { [ "$(ctl --json camera stats "$1" | json 'j["generation"]')" -gt "$2" ]; }
wait_for 30 "camera A's new generation" new_gen "$cam_a" "$gen_a"
browser_wait alice 30 "alice's page to play the new generation (green)" \
  "document.body.dataset.state === \"playing\" && $JS_VIDEO_COLOUR" >/dev/null
wait_for_green() { [ "$(browser_colour alice)" = green ]; }
wait_for 30 "alice's page to show the restarted camera (green)" wait_for_green
[ "$(browser alice eval 'window.hearthNoReload === true')" = true ] || fail "the page was reloaded"
log "followed the new generation without a reload"

revoke_while_playing alice

# Bob is untouched: still playing blue.
browser bob open "$(url "/#camera=$cam_b")" >/dev/null
browser_wait bob 30 "bob's camera to play again" "$JS_PLAYING" >/dev/null
[ "$(browser_colour bob)" = blue ] || fail "bob's camera is not blue after alice's revocation"

# Nothing streams while the page is hidden; it plays again when shown.
viewers() { [ "$(ctl --json camera stats "$cam_b" | json 'j["displays"]')" -eq "$1" ]; }
viewers 1 || fail "bob's page is not the one display of camera B"
browser bob hide >/dev/null
browser_wait bob 10 "bob's hidden page to pause" 'document.body.dataset.state === "paused"' >/dev/null
wait_for 10 "bob's hidden page to stop streaming" viewers 0
browser bob show >/dev/null
browser_wait bob 30 "bob's page to play again when shown" "$JS_PLAYING" >/dev/null
viewers 1 || fail "bob's page streams $(ctl --json camera stats "$cam_b" | json 'j["displays"]') times"

revoke_while_playing bob

stop_gateway
log ok
