#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian packages, as a user gets them: build them from the source tree
# with dpkg-buildpackage, check them with lintian, install them, start the
# installed hearthd as the "hearth" user the way its systemd unit does (this
# machine has no systemd: the unit's user, umask, directories and environment
# are applied by hand, read from the installed unit), let root and a member of
# the hearth group use hearthctl, pair the installed hearth-display and
# receive stamped frames from a fake camera; back up, restore into a new state
# directory and watch again; then remove (state kept) and purge (state gone).
#
# It changes the system (packages, a system user), so it runs only in CI
# (CI=true) or when asked (HEARTH_TEST_PACKAGES=1), as root, and only in the
# plain build: it builds its own packages, so the sanitizer build adds
# nothing. Otherwise it exits 77, which Meson reports as skipped.

if [ "${CI:-}" != true ] && [ "${HEARTH_TEST_PACKAGES:-}" != 1 ]; then
  echo "skipped: installs packages; set HEARTH_TEST_PACKAGES=1 (CI=true does) to run"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: installing packages needs root"
  exit 77
fi
if [ "${HEARTH_SANITIZE:-none}" != none ]; then
  echo "skipped: the package test runs in the plain build only"
  exit 77
fi

source "$(dirname "$0")/lib.sh"
: "${HEARTH_SOURCE_DIR:?run through meson test}"

UNIT=/lib/systemd/system/hearthd.service
BIN_CTL=/usr/bin/hearthctl
BIN_DISPLAY=/usr/bin/hearth-display
ctl() { "$BIN_CTL" "$@"; }

package_status() {
  dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' ' || true
}
for p in hearth hearth-display; do
  case "$(package_status $p)" in
    "" | un) ;;
    *) fail "the $p package is already on this machine ($(package_status $p)): purge it first" ;;
  esac
done

# Whatever happens, leave no package and no daemon behind.
purge_packages() {
  local rc=$?
  if [ -n "${GATEWAY_PID:-}" ]; then
    kill "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  if [ -n "$(package_status hearth)$(package_status hearth-display)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hearth hearth-display \
      >>"$T/apt.log" 2>&1 || true
  fi
  return $rc
}
trap 'purge_packages; cleanup' EXIT

# --- build and lint ------------------------------------------------------------
# A copy of the tree, so that the build leaves nothing in the source.
mkdir -p "$T/src/hearth"
tar -C "$HEARTH_SOURCE_DIR" --exclude='./build*' --exclude=./.git \
  --exclude='./obj-*' -cf - . | tar -C "$T/src/hearth" -xf -
log "dpkg-buildpackage -b -us -uc"
(cd "$T/src/hearth" && dpkg-buildpackage -b -us -uc) >"$T/build.log" 2>&1 ||
  fail "dpkg-buildpackage failed: $(tail -n 30 "$T/build.log")"
for p in hearth hearth-display; do
  ls "$T/src/${p}"_*.deb >/dev/null 2>&1 || fail "no $p package was built"
done
lintian --fail-on error "$T"/src/hearth_*.changes >"$T/lintian.log" 2>&1 ||
  fail "lintian reports errors: $(cat "$T/lintian.log")"
! grep -q '^E:' "$T/lintian.log" || fail "lintian reports errors: $(cat "$T/lintian.log")"

# --- install -------------------------------------------------------------------
log "installing"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "$T"/src/hearth_*.deb "$T"/src/hearth-display_*.deb >"$T/apt.log" 2>&1 ||
  fail "installing failed: $(tail -n 30 "$T/apt.log")"
getent passwd hearth >/dev/null || fail "no hearth user"
getent group hearth >/dev/null || fail "no hearth group"
[ "$(stat -c '%a %U %G' /var/lib/hearth)" = "700 hearth hearth" ] ||
  fail "state dir is $(stat -c '%a %U %G' /var/lib/hearth)"
for f in /usr/sbin/hearthd /usr/bin/hearthctl /usr/bin/hearth-display "$UNIT" \
         /usr/share/man/man8/hearthd.8.gz /usr/share/man/man1/hearthctl.1.gz \
         /usr/share/man/man1/hearth-display.1.gz /usr/share/man/man5/hearth.conf.5.gz; do
  [ -f "$f" ] || fail "$f is not installed"
done
for plugin in rtsp axis synthetic; do
  compgen -G "/usr/lib/*/hearth/plugins/$plugin.so" >/dev/null ||
    fail "the $plugin camera plugin is not installed"
done

# The unit as systemd reads it, and how exposed it leaves the daemon (where
# the systemd tools are installed; systemd need not run).
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$UNIT" >"$T/verify.log" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$T/verify.log")"
  [ ! -s "$T/verify.log" ] || fail "systemd-analyze verify: $(cat "$T/verify.log")"
  systemd-analyze security --offline=true "$UNIT" >"$T/security.log" 2>&1 ||
    fail "systemd-analyze security: $(tail -n 5 "$T/security.log")"
  exposure=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' "$T/security.log")
  log "systemd-analyze security: exposure $exposure"
  awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' ||
    fail "exposure level “$exposure” is above 2: $(cat "$T/security.log")"
fi

# The config file: every option there, commented at its default, except the
# admin socket, and the file is valid as it is and with every option set.
conf=/etc/hearth/hearth.conf
grep -qx 'control-socket = /run/hearth/hearthd.sock' "$conf" || fail "$conf does not set the socket"
# (the docs test checks that the source's file shows every option the
# parser knows; here the installed one must show as many)
options=$(grep -cE '^#[a-z-]+ =( |$)' "$conf")
expected=$(grep -cE '^#[a-z-]+ =( |$)' "$HEARTH_SOURCE_DIR/packaging/hearth.conf")
[ "$options" -eq "$expected" ] || fail "$conf shows $options commented options, not $expected"
/usr/sbin/hearthd --check-config --config "$conf" | grep -q "OK" || fail "$conf is not valid"
# (plugin-dir's shown default writes the architecture as <multiarch>.)
sed -E -e 's/^#([a-z-]+ =( |$))/\1/' \
  -e "s|<multiarch>|$(dpkg-architecture -qDEB_HOST_MULTIARCH)|" "$conf" >"$T/all-set.conf"
/usr/sbin/hearthd --check-config --config "$T/all-set.conf" >/dev/null ||
  fail "$conf with every option uncommented is not valid"

# --- start it the way the unit does ---------------------------------------------
# unit_value KEY: the value of KEY= in [Service] (the last one); with several
# Environment= lines, all of them.
unit_value() {
  sed -n '/^\[Service\]/,/^\[/p' "$UNIT" | sed -n "s/^$1=//p" |
    if [ "$1" = Environment ]; then tr '\n' ' '; else tail -n 1; fi
}
user=$(unit_value User)
group=$(unit_value Group)
[ "$user" = hearth ] && [ "$group" = hearth ] || fail "the unit runs as $user:$group"
umask_value=$(unit_value UMask)
exec_start=$(unit_value ExecStart)
exec_start_pre=$(unit_value ExecStartPre)
environment=$(unit_value Environment | sed 's|%C|/var/cache|g')
for kind in Runtime:/run Cache:/var/cache State:/var/lib; do
  name=$(unit_value "${kind%%:*}Directory")
  mode=$(unit_value "${kind%%:*}DirectoryMode")
  install -d -o "$user" -g "$group" -m "${mode:-0755}" "${kind#*:}/$name"
done
grep -qx 'NoNewPrivileges=yes' "$UNIT" || fail "the unit allows new privileges"
grep -qx 'CapabilityBoundingSet=' "$UNIT" || fail "the unit keeps capabilities"

# As the unit's user, group, umask and environment, with no capabilities and
# no new privileges; every step execs the next, so the PID is hearthd's.
# shellcheck disable=SC2206 # the unit's words, split as systemd does
as_service=(setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs
  --inh-caps=-all --bounding-set=-all --
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/hearth $environment
  sh -c 'umask "$0"; exec "$@"' "$umask_value")
# shellcheck disable=SC2086
"${as_service[@]}" $exec_start_pre >>"$T/hearthd.log" 2>&1 || fail "ExecStartPre failed"

# start_service STREAM-PORT: the unit's command, on loopback ports of the
# test's choosing (0: any free one).
start_service() {
  # shellcheck disable=SC2086
  "${as_service[@]}" $exec_start --listen "127.0.0.1:$1" --pairing-listen 127.0.0.1:0 \
    >>"$T/hearthd.log" 2>&1 &
  GATEWAY_PID=$!
  wait_for 20 "the installed hearthd to answer on /run/hearth/hearthd.sock" ctl status
  STREAM_PORT=$(ctl --json status | json 'j["stream_port"]')
}

start_camera door
start_service 0
[ "$(stat -c '%U %G %a' /run/hearth/hearthd.sock)" = "hearth hearth 660" ] ||
  fail "admin socket is $(stat -c '%U %G %a' /run/hearth/hearthd.sock)"
pgrep -u hearth -x hearthd >/dev/null || fail "hearthd does not run as hearth"
[ "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$(pgrep -u hearth -x hearthd)/status")" = 1 ] ||
  fail "hearthd may gain privileges"

# hearthctl: root and members of the hearth group, nobody else.
hearth_gid=$(getent group hearth | cut -d: -f3)
setpriv --reuid=nobody --regid=nogroup --groups="$hearth_gid" -- "$BIN_CTL" status >/dev/null ||
  fail "a member of the hearth group cannot use hearthctl"
if setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$BIN_CTL" status >"$T/nobody.log" 2>&1; then
  fail "a user outside the hearth group could use hearthctl"
fi

# --- pair the installed display and watch ----------------------------------------
ctl household add Home >/dev/null
camera_id=$(ctl camera add --household Home --name Door "$CAM_URL_door")
wait_for 30 "camera to stream" sh -c "'$BIN_CTL' camera list | grep -q streaming"
pair_display living Home
display living list | grep -q "$camera_id" || fail "the display does not list the camera"
display living check "$camera_id" --frames 60 --expect-stamp "$CAM_ID_door" \
  --timeout 60 | tee "$T/check.log"
grep -qx "ok" "$T/check.log" || fail "no stamped frames through the installed packages"

ctl backup "$T/hearth.backup" >/dev/null || fail "backup from the installed daemon failed"

stop_gateway
GATEWAY_PID=
for f in hearth.db gateway.key gateway.crt ca.key ca.crt; do
  [ "$(stat -c '%a %U' "/var/lib/hearth/$f")" = "600 hearth" ] ||
    fail "/var/lib/hearth/$f is $(stat -c '%a %U' "/var/lib/hearth/$f")"
done

# --- restore as on a new machine: root restores, the daemon user owns it -----------
mv /var/lib/hearth "$T/old-state"
install -d -o hearth -g hearth -m 0700 /var/lib/hearth
ctl restore "$T/hearth.backup" >/dev/null || fail "restore failed"
for f in hearth.db gateway.key gateway.crt ca.key ca.crt; do
  [ "$(stat -c '%a %U' "/var/lib/hearth/$f")" = "600 hearth" ] ||
    fail "restored /var/lib/hearth/$f is $(stat -c '%a %U' "/var/lib/hearth/$f")"
done
start_service "$STREAM_PORT"
wait_for 30 "camera to stream after restore" sh -c "'$BIN_CTL' camera list | grep -q streaming"
display living check "$camera_id" --frames 30 --expect-stamp "$CAM_ID_door" \
  --timeout 60 >"$T/check-restored.log" 2>&1 ||
  fail "the display cannot watch the restored gateway: $(cat "$T/check-restored.log")"
stop_gateway
GATEWAY_PID=

# --- remove keeps the state, purge deletes it ------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q hearth hearth-display >>"$T/apt.log" 2>&1 ||
  fail "remove failed: $(tail -n 20 "$T/apt.log")"
[ ! -e /usr/sbin/hearthd ] || fail "hearthd is still installed after remove"
[ -f /var/lib/hearth/hearth.db ] || fail "remove deleted the state directory"
[ -f "$conf" ] || fail "remove deleted the configuration"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hearth hearth-display >>"$T/apt.log" 2>&1 ||
  fail "purge failed: $(tail -n 20 "$T/apt.log")"
[ ! -e /var/lib/hearth ] || fail "purge left /var/lib/hearth"
[ ! -e /var/cache/hearth ] || fail "purge left /var/cache/hearth"
[ ! -e "$conf" ] || fail "purge left $conf"
[ -z "$(package_status hearth)" ] || [ "$(package_status hearth)" = un ] ||
  fail "hearth is still known to dpkg: $(package_status hearth)"
log "ok"
