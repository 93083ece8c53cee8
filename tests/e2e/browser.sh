# SPDX-License-Identifier: GPL-2.0-or-later
# Real browsers as displays, for the end-to-end tests (sourced after lib.sh).
# Each browser is a headless Chromium or Firefox with its own HOME and
# profile, an NSS database with one display's identity and the gateway's
# trust anchor, and a setting that presents that identity to the gateway;
# tests/tools/browser.py drives it (DevTools pipe, WebDriver BiDi).

BROWSER_PY=$HEARTH_SOURCE_DIR/tests/tools/browser.py

# trust_gateway NSSDB STATE_DIR: the one place that says what a browser
# trusts the gateway by: its root CA (STATE_DIR/ca.crt), as an authority
# for websites ("C,,"), as a person installs it; Chromium and Firefox (NSSDB
# is its profile) both take it from the NSS database.
trust_gateway() {
  certutil -A -d "sql:$1" -t "C,," -n hearth-gateway-root -i "$2/ca.crt"
}

# browser_start NAME DISPLAY [chromium|firefox [CHROMIUM FLAGS...]]: a
# browser with the identity of DISPLAY (paired with pair_display), presented
# to this gateway's stream port; DISPLAY "-" is a browser as it comes: an
# empty NSS database, no identity, no trust in the gateway.
browser_start() {
  local name=$1 kind=${3:-chromium} home=$T/browser-$1 nssdb
  mkdir -p "$home/profile"
  if [ "$kind" = chromium ]; then
    nssdb=$home/.pki/nssdb
    mkdir -p "$nssdb" "$home/policies/managed"
    printf '{"AutoSelectCertificateForUrls": ["{\\"pattern\\": \\"%s\\", \\"filter\\": {}}"]}\n' \
      "$(url '')" >"$home/policies/managed/hearth.json"
  else
    # Firefox keeps its NSS database in the profile. Everything but loopback
    # goes to a proxy that is not there; nothing runs in the background.
    nssdb=$home/profile
    cat >"$home/profile/user.js" <<'EOF'
user_pref("security.default_personal_cert", "Select Automatically");
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "127.0.0.1");
user_pref("network.proxy.http_port", 9);
user_pref("network.proxy.ssl", "127.0.0.1");
user_pref("network.proxy.ssl_port", 9);
user_pref("network.proxy.no_proxies_on", "127.0.0.1");
user_pref("network.proxy.allow_hijacking_localhost", false);
user_pref("app.update.disabledForTesting", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.safebrowsing.update.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("extensions.update.enabled", false);
EOF
  fi
  certutil -N -d "sql:$nssdb" --empty-password
  if [ "$2" != - ]; then
    certtool --to-p12 --load-privkey "$(key_of "$2")" --load-certificate "$(cert_of "$2")" \
      --p12-name "$2" --password hearth --outder --outfile "$home/display.p12" 2>/dev/null
    pk12util -i "$home/display.p12" -d "sql:$nssdb" -W hearth >/dev/null
    trust_gateway "$nssdb" "$T/state"
  fi
  shift $(($# < 3 ? $# : 3))
  browser_launch "$name" "$kind" "$@"
}

# browser_launch NAME KIND [CHROMIUM FLAGS...]: starts (or starts again)
# browser NAME on the home and profile browser_start made. With BROWSER_HOST
# set, in that host of netns.sh (for a gateway there: ns_gateway).
browser_launch() {
  local name=$1 kind=$2 home=$T/browser-$1 fd_in fd_out flag flags=() run=()
  shift 2
  for flag in "$@"; do flags+=(--flag="$flag"); done
  [ -z "${BROWSER_HOST:-}" ] ||
    run=(nsenter -t "${NS_HOLDER[$BROWSER_HOST]}" -m -n --wd="$PWD" --)
  rm -f "$home/in" "$home/out"
  mkfifo "$home/in" "$home/out"
  "${run[@]}" python3 "$BROWSER_PY" --kind "$kind" --home "$home" --policies "$home/policies" \
    "${flags[@]}" <"$home/in" >"$home/out" 2>>"$home/driver.log" &
  PIDS+=($!)
  printf -v "BROWSER_PID_$name" '%s' "$!"
  exec {fd_in}>"$home/in" {fd_out}<"$home/out"
  printf -v "BROWSER_IN_$name" '%s' "$fd_in"
  printf -v "BROWSER_OUT_$name" '%s' "$fd_out"
}

# browser_stop NAME: closes browser NAME (its profile stays) and waits for it.
browser_stop() {
  local in=BROWSER_IN_$1 out=BROWSER_OUT_$1 pid=BROWSER_PID_$1 fd_in fd_out
  fd_in=${!in} fd_out=${!out}
  exec {fd_in}>&- {fd_out}<&-
  wait "${!pid}" || fail "browser $1 did not close cleanly"
}

# browser NAME COMMAND...: one browser.py command (open, eval, wait; newlines
# become spaces); prints the JSON value, fails the test on an error.
browser() {
  local name=$1 in out answer line
  shift
  in=BROWSER_IN_$name out=BROWSER_OUT_$name
  line="$*"
  printf '%s\n' "${line//$'\n'/ }" >&"${!in}"
  read -r -t 120 answer <&"${!out}" || fail "browser $name did not answer \"$*\""
  case $answer in
    ok\ *) echo "${answer#ok }" ;;
    *) fail "browser $name: $* -> ${answer#error }" ;;
  esac
}

# browser_wait NAME SECONDS WHAT EXPR: waits until EXPR is truthy in the page
# (newlines become spaces).
browser_wait() {
  local answer answer2 name=$1 in out
  in=BROWSER_IN_$name out=BROWSER_OUT_$name
  printf 'wait %s %s\n' "$2" "${4//$'\n'/ }" >&"${!in}"
  read -r -t $(($2 + 60)) answer <&"${!out}" || fail "browser $name did not answer"
  case $answer in
    ok\ *) echo "${answer#ok }" ;;
    *)
      printf '%s\n' "eval $JS_PAGE_SUMMARY" >&"${!in}"
      read -r -t 10 answer2 <&"${!out}" || true
      fail "browser $name: timed out waiting for $3: ${answer#error } (page: ${answer2#ok })" ;;
  esac
}

# JavaScript: what a failed wait reports of the page.
JS_PAGE_SUMMARY='(() => { const v = document.querySelector("video"); let b = "";
  if (v) { for (let i = 0; i < v.buffered.length; i++) b += ` ${v.buffered.start(i).toFixed(2)}-${v.buffered.end(i).toFixed(2)}`; }
  return `${location.href} state=${document.body.dataset.state} status=${document.getElementById("status")?.textContent}` +
    (v ? ` video: t=${v.currentTime.toFixed(2)} buffered=[${b} ] paused=${v.paused} ready=${v.readyState} rate=${v.playbackRate} error=${v.error?.message}` : ""); })()'
JS_PAGE_SUMMARY=$(tr '\n' ' ' <<<"$JS_PAGE_SUMMARY")

# JavaScript: the average colour of the video's current frame, "R G B", or
# null before there is one.
JS_VIDEO_COLOUR='(() => {
  const v = document.querySelector("video");
  if (!v || v.readyState < 2 || !v.videoWidth) return null;
  const c = document.createElement("canvas"); c.width = 32; c.height = 18;
  const g = c.getContext("2d"); g.drawImage(v, 0, 0, 32, 18);
  const d = g.getImageData(0, 0, 32, 18).data; const sum = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) sum[k] += d[i + k];
  return sum.map((s) => Math.round(s / (d.length / 4))).join(" "); })()'
JS_VIDEO_COLOUR=$(tr '\n' ' ' <<<"$JS_VIDEO_COLOUR")

# colour_name "R G B": red, green, blue, white or black, else "other".
colour_name() {
  awk '{ r = $1; g = $2; b = $3;
    if (r > 160 && g < 90 && b < 90) print "red";
    else if (g > 160 && r < 90 && b < 90) print "green";
    else if (b > 160 && r < 90 && g < 90) print "blue";
    else if (r > 200 && g > 200 && b > 200) print "white";
    else if (r < 40 && g < 40 && b < 40) print "black";
    else print "other" }' <<<"$1"
}

# browser_colour NAME: the colour name of the video frame shown now.
browser_colour() {
  local rgb
  rgb=$(browser_wait "$1" 10 "a decoded frame" "$JS_VIDEO_COLOUR" | tr -d '"')
  colour_name "$rgb"
}

# revoke_while_playing NAME: revokes display NAME while its browser's page
# plays; the video stops within 1 s and the page says the display was
# removed (its certificate still completes the handshake and is answered
# "not paired", so the page can tell "removed" from "unreachable").
revoke_while_playing() {
  local name=$1 id revoked_at last
  browser "$name" eval 'window.hearthLastFrameAt = 0; (() => {
    const v = document.querySelector("video"); let t = v.currentTime;
    let n = v.getVideoPlaybackQuality().totalVideoFrames;
    setInterval(() => { const f = v.getVideoPlaybackQuality().totalVideoFrames;
      if (v.currentTime !== t || f !== n) { t = v.currentTime; n = f; window.hearthLastFrameAt = Date.now(); } }, 20);
    return true; })()' >/dev/null
  browser_wait "$name" 10 "$name's video to advance" 'window.hearthLastFrameAt > 0' >/dev/null
  id=$(ctl --json display list | json "[d['id'] for d in j['displays'] if d['name']=='$name'][0]")
  revoked_at=$(date +%s%3N)
  ctl display revoke "$id"
  browser_wait "$name" 20 "$name's page to say it was removed" \
    'document.body.dataset.state === "removed" && Date.now() - window.hearthLastFrameAt > 1500' >/dev/null
  last=$(browser "$name" eval 'window.hearthLastFrameAt')
  log "$name: last frame $((last - revoked_at)) ms after the revocation; page: removed"
  [ $((last - revoked_at)) -le 1000 ] || fail "$name's video ran $((last - revoked_at)) ms after the revocation"
  browser "$name" eval 'document.getElementById("status").textContent' |
    grep -q "This display was removed from the household" ||
    fail "$name's page does not say the display was removed"
}
