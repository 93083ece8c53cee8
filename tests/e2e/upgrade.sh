#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Upgrades as the daemon meets them: hearthd started on a database left by the
# oldest release (tests/fixtures/schema-0001.sql) migrates it in place and
# shows its households and displays; one from a newer release is refused with
# the reason, exit status 69, and left byte for byte as it was.
source "$(dirname "$0")/lib.sh"

: "${HEARTH_STORE_FIXTURE_0001:?run through meson test}"

# The oldest release's database, without its cameras: they point at LAN
# addresses this test must not dial.
mkdir -m 700 "$T/state"
cp "$HEARTH_STORE_FIXTURE_0001" "$T/state/hearth.db"
chmod 600 "$T/state/hearth.db"
sqlite3 "$T/state/hearth.db" "DELETE FROM cameras"
start_gateway
ctl household list | tee "$T/households.log"
grep -q "Flat 2" "$T/households.log" || fail "households lost in the upgrade"
ctl display list | tee "$T/displays.log"
grep -q "Living room" "$T/displays.log" || fail "displays lost in the upgrade"
[ "$(sqlite3 "$T/state/hearth.db" "PRAGMA user_version")" -ge 1 ] || fail "no schema version"
stop_gateway

# A database from a newer Hearth.
sqlite3 "$T/state/hearth.db" "PRAGMA user_version = 999"
before=$(sha256sum <"$T/state/hearth.db")
rc=0
"$BIN_HEARTHD" --state-dir "$T/state" --listen 127.0.0.1:0 --pairing-listen 127.0.0.1:0 \
  >"$T/newer.log" 2>&1 || rc=$?
[ $rc -eq 69 ] || fail "hearthd exited $rc on a newer database: $(cat "$T/newer.log")"
grep -q "schema version 999 is newer" "$T/newer.log" || fail "hearthd did not say why: $(cat "$T/newer.log")"
[ "$(sha256sum <"$T/state/hearth.db")" = "$before" ] || fail "the newer database was changed"
log "ok"
