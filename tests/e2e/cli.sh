#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Bad input at the admin's hands: camera URLs to the internet or with other
# schemes, unknown households, broken configs, a second daemon on the same
# state directory. Each gets a clear message and a non-zero exit, and the store
# keeps nothing of it.
source "$(dirname "$0")/lib.sh"

# Broken configs are refused before anything starts.
printf '[gateway]\nlisten = nowhere\n' >"$T/bad1.conf"
printf '[gateway]\nlisten = 8.8.8.8:8443\n' >"$T/bad2.conf"
printf '[gateway]\nbogus = 1\n' >"$T/bad3.conf"
printf '[limits]\nmax-connections = -4\n' >"$T/bad4.conf"
printf 'not a key file\n' >"$T/bad5.conf"
for i in 1 2 3 4 5; do
  rc=0; "$BIN_HEARTHD" --config "$T/bad$i.conf" --state-dir "$T/never" --check-config \
    >"$T/bad.log" 2>&1 || rc=$?
  [ $rc -eq 78 ] || fail "bad config $i: exit $rc"
  grep -q "hearthd: " "$T/bad.log" || fail "bad config $i: no message"
  cat "$T/bad.log"
done
[ ! -e "$T/never" ] || fail "a refused config created the state directory"
# (grep reads the whole output: "| grep -q" could stop the writer early.)
grep -q -- "--state-dir" <<<"$("$BIN_HEARTHD" --help)" || fail "hearthd --help"
grep -q "pair" <<<"$("$BIN_CTL" --help)" || fail "hearthctl --help"
grep -q "check" <<<"$("$BIN_DISPLAY" --help)" || fail "hearth-display --help"

# Every program says its version, the project's.
version=$(sed -n "s/^ *version: '\(.*\)',$/\1/p" "$HEARTH_SOURCE_DIR/meson.build")
for bin in "$BIN_HEARTHD" "$BIN_CTL" "$BIN_DISPLAY"; do
  [ "$(client "$bin" --version)" = "$(basename "$bin") $version" ] ||
    fail "$bin --version: $(client "$bin" --version 2>&1)"
done

# A missing or unknown command or action is answered with every valid one,
# as --help lists them.
usage_names_all() {
  local rc=0 word
  "$BIN_CTL" "${@:2}" >/dev/null 2>"$T/usage.log" || rc=$?
  [ $rc -eq 65 ] || fail "hearthctl ${*:2}: exit $rc, not 65"
  for word in $1; do
    grep -qw -- "$word" "$T/usage.log" || fail "hearthctl ${*:2} does not name $word: $(cat "$T/usage.log")"
  done
}
commands=$("$BIN_CTL" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\).*/\1/p' | sort -u)
usage_names_all "$commands"
usage_names_all "$commands" bogus
for command in household camera display; do
  actions=$("$BIN_CTL" --help | grep -o "^  $command [a-z]\+\|, $command [a-z]\+" |
            awk '{print $NF}' | sort -u)
  [ "$(echo "$actions" | wc -l)" -ge 2 ] || fail "--help lists no actions of $command"
  usage_names_all "$actions" "$command"
  usage_names_all "$actions" "$command" bogus
done

# Without any plugin option, the build tree's own hearthd loads the plugins
# built beside it; a copy of it elsewhere does not (it is no build-tree
# binary), and an unreadable directory says how to name the right one.
no_plugins() {
  local rc=0
  env -u HEARTH_PLUGIN_DIR "$@" --state-dir "$T/noplug" --listen 127.0.0.1:0 \
    --pairing-listen 127.0.0.1:0 >"$T/noplug.log" 2>&1 || rc=$?
  [ $rc -eq 69 ] || fail "hearthd $*: exit $rc, not 69"
  grep -qF -- "--plugin-dir DIR, [cameras] plugin-dir = DIR or \$HEARTH_PLUGIN_DIR" "$T/noplug.log" ||
    fail "no advice on the plugin directory: $(cat "$T/noplug.log")"
  cat "$T/noplug.log"
}
no_plugins "$BIN_HEARTHD" --plugin-dir "$T/no-such-dir"
grep -q "cannot read the plugin directory.*no-such-dir" "$T/noplug.log" || fail "the directory is not named"
mkdir "$T/empty-plugins"
no_plugins "$BIN_HEARTHD" --plugin-dir "$T/empty-plugins"
cp "$BIN_HEARTHD" "$T/hearthd-copy"
no_plugins "$T/hearthd-copy"
! grep -qF "$HEARTH_BUILD_DIR/plugins" "$T/noplug.log" || fail "a copied hearthd used the build tree's plugins"
rm -f "$T/hearthd-copy"

plugin_env=$HEARTH_PLUGIN_DIR
unset HEARTH_PLUGIN_DIR
start_gateway
export HEARTH_PLUGIN_DIR=$plugin_env
grep -qF "Camera plugins from $(realpath "$HEARTH_BUILD_DIR")/plugins: axis, onvif, rtsp, synthetic" "$T/hearthd.log" ||
  grep -qF "Camera plugins from $HEARTH_BUILD_DIR/plugins: axis, onvif, rtsp, synthetic" "$T/hearthd.log" ||
  fail "the build tree's hearthd did not load the plugins built beside it"
ctl household add Home

cameras() { ctl --json camera list | json 'len(j["cameras"])'; }
for url in "rtsp://8.8.8.8/stream" "rtsp://user:hunter2@1.1.1.1/s" "http://127.0.0.1/x" \
    "file:///etc/passwd" "rtsp://camera.example.com/x" "rtsp:///x" "not a url"; do
  rc=0; ctl camera add --household Home --name Bad "$url" >"$T/add.log" 2>&1 || rc=$?
  [ $rc -ne 0 ] || fail "camera URL $url was accepted"
  grep -q "hearthctl: " "$T/add.log" || fail "no message for $url"
  ! grep -q hunter2 "$T/add.log" || fail "the password was repeated back"
  cat "$T/add.log"
done
[ "$(cameras)" -eq 0 ] || fail "a refused camera was stored"

rc=0; ctl camera add --household Nowhere --name X rtsp://127.0.0.1:1/x 2>"$T/nh.log" || rc=$?
[ $rc -ne 0 ] && grep -qi "household" "$T/nh.log" || fail "unknown household: $(cat "$T/nh.log")"
rc=0; ctl household add Home 2>"$T/dup.log" || rc=$?
[ $rc -ne 0 ] && grep -qi "exists\|already" "$T/dup.log" || fail "duplicate household: $(cat "$T/dup.log")"

# Names: a household's is unique ignoring case, and so is a camera's in its
# household; a clash names what has the name and changes nothing.
for name in home HOME; do
  rc=0; ctl household add "$name" 2>"$T/dup.log" || rc=$?
  [ $rc -eq 1 ] && grep -qF "a household named “Home” already exists" "$T/dup.log" ||
    fail "household $name: $(cat "$T/dup.log")"
done
[ "$(ctl --json household list | json 'len(j["households"])')" -eq 1 ] || fail "households that differ in case"
ctl household add Flat >/dev/null
door=$(ctl camera add --household HOME --name Door rtsp://127.0.0.1:1/door 2>/dev/null)
rc=0; ctl camera add --household Home --name door rtsp://127.0.0.1:1/door2 2>"$T/dup.log" || rc=$?
[ $rc -eq 1 ] && grep -qF "a camera named “Door” already exists in household “Home”" "$T/dup.log" ||
  fail "two cameras Door: $(cat "$T/dup.log")"
flat_door=$(ctl camera add --household Flat --name DOOR rtsp://127.0.0.1:1/door3 2>/dev/null)
rc=0; ctl camera move "$flat_door" --household home 2>"$T/dup.log" || rc=$?
[ $rc -eq 1 ] && grep -qF "a camera named “Door” already exists in household “Home”" "$T/dup.log" &&
  grep -qF -- "--name" "$T/dup.log" || fail "moving onto a taken name: $(cat "$T/dup.log")"
camera_field() { ctl --json camera list | json "[c['$2'] for c in j['cameras'] if c['id'] == '$1'][0]"; }
[ "$(camera_field "$flat_door" household)" = Flat ] || fail "a refused move moved the camera"
ctl camera move "$flat_door" --household home --name "Back door" >/dev/null
[ "$(camera_field "$flat_door" household)/$(camera_field "$flat_door" name)" = "Home/Back door" ] ||
  fail "camera move --name"
ctl camera remove "$flat_door" >/dev/null
ctl camera remove "$door" >/dev/null
ctl household delete FLAT >/dev/null

rc=0; ctl display revoke 999 2>"$T/rv.log" || rc=$?
[ $rc -ne 0 ] || fail "revoking an unknown display succeeded"

# A camera whose password is given is listed without it.
ctl camera add --household Home --name Secret "rtsp://admin:hunter2@127.0.0.1:1/s" >/dev/null
ctl camera list | tee "$T/list.log"
! grep -q hunter2 "$T/list.log" || fail "camera list shows the password"
wait_for 20 "the unreachable camera to be offline" sh -c "'$BIN_CTL' --state-dir '$T/state' camera list | grep -q offline"
! grep -q hunter2 "$T/hearthd.log" || fail "the password reached the log"

# A second daemon on the same state directory refuses to start.
rc=0; "$BIN_HEARTHD" --state-dir "$T/state" --listen 127.0.0.1:0 --pairing-listen 127.0.0.1:0 \
  >"$T/second.log" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "a second hearthd started on the same state"
cat "$T/second.log"

# Unreachable socket: a clear message.
rc=0; "$BIN_CTL" --socket "$T/nothing.sock" status 2>"$T/nosock.log" || rc=$?
[ $rc -eq 69 ] || fail "no socket: exit $rc"

stop_gateway
log "ok"
