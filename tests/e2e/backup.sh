#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Backup and restore: a backup taken with hearthctl while a display streams is
# one private file; restored into a fresh state directory (as on a new
# machine), the gateway has the same identity, and the same display, with its
# old certificate and configuration, still lists and watches the camera.
# Restore refuses a running daemon, a non-empty directory and a file that is
# not a backup, and leaves the directory as it was. hearthctl restore runs
# hearthd --restore; the same restore is checked again with hearthd
# --restore itself (and --config), with its exit statuses. Files a killed
# hearthd left in its state directory are gone after the next start.
source "$(dirname "$0")/lib.sh"

start_camera door
start_gateway

ctl household add Home >/dev/null
camera_id=$(ctl camera add --household Home --name Door "$CAM_URL_door")
wait_for 30 "camera to stream" sh -c "'$BIN_CTL' --state-dir '$T/state' camera list | grep -q streaming"
pair_display living Home

# A stream runs while the backup is taken, and is not disturbed by it.
display living check "$camera_id" --frames 150 --expect-stamp "$CAM_ID_door" \
  --timeout 60 >"$T/check-during.log" 2>&1 &
check_pid=$!
PIDS+=($check_pid)
wait_for 30 "a live stream" sh -c "'$BIN_CTL' --state-dir '$T/state' --json status | grep -q '\"live_streams\" *: *[1-9]'"
ctl backup "$T/backup.hearth" | tee "$T/backup.log"
grep -q "backup written to $T/backup.hearth" "$T/backup.log" || fail "backup did not say where"
[ "$(stat -c %a "$T/backup.hearth")" = 600 ] || fail "backup is not 0600"
ctl --json status | json 'j["live_streams"]' | grep -qx '[1-9]' ||
  fail "the stream ended during the backup"
wait "$check_pid" || fail "the stream was disturbed by the backup: $(cat "$T/check-during.log")"
grep -qx "ok" "$T/check-during.log" || fail "check during backup: $(cat "$T/check-during.log")"

# Restore refuses while the daemon runs and the directory is in use.
if ctl restore "$T/backup.hearth" >"$T/restore-running.log" 2>&1; then
  fail "restore ran while hearthd was running"
fi
grep -q "running" "$T/restore-running.log" || fail "restore did not say why: $(cat "$T/restore-running.log")"

old_cert=$(sha256sum <"$T/state/gateway.crt")
old_ca=$(sha256sum <"$T/state/ca.crt")
stop_gateway
mv "$T/state" "$T/old-state"

# Not a backup: refused, nothing left behind.
echo "not a backup" >"$T/garbage"
mkdir -m 700 "$T/state"
if ctl restore "$T/garbage" >"$T/restore-garbage.log" 2>&1; then
  fail "restore accepted a file that is not a backup"
fi
[ -z "$(ls -A "$T/state")" ] || fail "a failed restore left files: $(ls -A "$T/state")"

# A non-empty directory is refused.
touch "$T/old-state/marker"
if "$BIN_CTL" --state-dir "$T/old-state" restore "$T/backup.hearth" >"$T/restore-full.log" 2>&1; then
  fail "restore wrote into a non-empty directory"
fi
grep -q "not empty" "$T/restore-full.log" || fail "restore did not say why: $(cat "$T/restore-full.log")"

# The real restore, into the fresh directory.
rmdir "$T/state"
ctl restore "$T/backup.hearth" | tee "$T/restore.log"
[ "$(stat -c %a "$T/state")" = 700 ] || fail "restored state dir is not 0700"
for f in hearth.db gateway.key gateway.crt ca.key ca.crt; do
  [ "$(stat -c %a "$T/state/$f")" = 600 ] || fail "restored $f is not 0600"
done
[ "$(sha256sum <"$T/state/gateway.crt")" = "$old_cert" ] || fail "the gateway certificate changed"
[ "$(sha256sum <"$T/state/ca.crt")" = "$old_ca" ] || fail "the gateway's root CA changed"

# What a hearthd killed mid-backup or mid-write leaves (keys, perhaps) is
# removed when the next one starts; other files stay.
leftovers=(.hearth-backup-Ab12Cd.tmp .hearth-backup-Ab12Cd.tmp-journal
           gateway.crt.tmp-Ab12Cd ca.key.new)
for f in "${leftovers[@]}" notes; do
  install -m 600 /dev/null "$T/state/$f"
done

# The same display, unchanged, works with the restored gateway on its address.
start_gateway --listen "127.0.0.1:$STREAM_PORT"
for f in "${leftovers[@]}"; do
  [ ! -e "$T/state/$f" ] || fail "$f, left by an interrupted run, is still there"
done
[ -e "$T/state/notes" ] || fail "hearthd removed a file it did not make"
ctl display list | grep -q living || fail "the display is not listed after restore"
display living list >"$T/list.log" 2>&1 || fail "display list failed: $(cat "$T/list.log")"
grep -q "$camera_id" "$T/list.log" || fail "camera not listed after restore"
wait_for 30 "camera to stream" sh -c "'$BIN_CTL' --state-dir '$T/state' camera list | grep -q streaming"
display living check "$camera_id" --frames 30 --expect-stamp "$CAM_ID_door" \
  --timeout 60 | tee "$T/check-after.log"
grep -qx "ok" "$T/check-after.log" || fail "the display could not watch after restore"

# hearthd --restore FILE: what hearthctl restore runs. Refused (75) while a
# hearthd answers on the directory's admin socket.
restore_direct() { # EXPECTED_STATUS LOG ARGS...
  local want=$1 log=$2 rc=0
  shift 2
  "$BIN_HEARTHD" "$@" >"$T/$log" 2>&1 || rc=$?
  [ "$rc" -eq "$want" ] || fail "hearthd $* exited $rc, not $want: $(cat "$T/$log")"
}
restore_direct 75 direct-running.log --state-dir "$T/state" --restore "$T/backup.hearth"
grep -q "hearthd is running" "$T/direct-running.log" ||
  fail "hearthd --restore did not say why: $(cat "$T/direct-running.log")"
stop_gateway

restore_direct 66 direct-missing.log --state-dir "$T/direct" --restore "$T/no-such-backup"
grep -q "no such backup file" "$T/direct-missing.log" ||
  fail "hearthd --restore did not say why: $(cat "$T/direct-missing.log")"
restore_direct 65 direct-garbage.log --state-dir "$T/direct" --restore "$T/garbage"
[ -z "$(ls -A "$T/direct")" ] || fail "a failed hearthd --restore left files: $(ls -A "$T/direct")"
restore_direct 73 direct-full.log --state-dir "$T/state" --restore "$T/backup.hearth"
grep -q "not empty" "$T/direct-full.log" ||
  fail "hearthd --restore did not say why: $(cat "$T/direct-full.log")"

# The state directory from the configuration.
printf '[gateway]\nstate-dir = %s\n' "$T/direct" >"$T/restore.conf"
restore_direct 0 direct.log --config "$T/restore.conf" --restore "$T/backup.hearth"
grep -q "restored $T/backup.hearth into $T/direct" "$T/direct.log" ||
  fail "hearthd --restore did not say where: $(cat "$T/direct.log")"
[ "$(stat -c %a "$T/direct")" = 700 ] || fail "hearthd --restore's state dir is not 0700"
for f in hearth.db gateway.key gateway.crt ca.key ca.crt; do
  [ "$(stat -c %a "$T/direct/$f")" = 600 ] || fail "hearthd --restore's $f is not 0600"
done
[ "$(sha256sum <"$T/direct/gateway.crt")" = "$old_cert" ] ||
  fail "hearthd --restore changed the gateway certificate"
[ "$(sha256sum <"$T/direct/ca.crt")" = "$old_ca" ] || fail "hearthd --restore changed the root CA"

# A gateway on it knows the display and the camera.
mv "$T/state" "$T/ctl-state"
mv "$T/direct" "$T/state"
start_gateway --listen "127.0.0.1:$STREAM_PORT"
ctl display list | grep -q living || fail "the display is not listed after hearthd --restore"
display living list >"$T/list-direct.log" 2>&1 || fail "display list failed: $(cat "$T/list-direct.log")"
grep -q "$camera_id" "$T/list-direct.log" || fail "camera not listed after hearthd --restore"

stop_gateway
log "ok"
