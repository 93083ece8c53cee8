#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Upgrades as the daemon meets them: hearthd started on a database left by the
# oldest release (tests/fixtures/schema-0001.sql) migrates it in place,
# shows its households and displays, and gives a new household an id that
# no deleted one had; one where names repeat, ignoring case
# (tests/fixtures/names-0001.sql), keeps every row with the later names
# renamed; one from a newer release is refused with the reason, exit status
# 69, and left byte for byte as it was.
source "$(dirname "$0")/lib.sh"

: "${HEARTH_STORE_FIXTURE_0001:?run through meson test}"
: "${HEARTH_STORE_FIXTURE_NAMES:?run through meson test}"

# The oldest release's database, without its cameras: they point at LAN
# addresses this test must not dial.
mkdir -m 700 "$T/state"
cp "$HEARTH_STORE_FIXTURE_0001" "$T/state/hearth.db"
chmod 600 "$T/state/hearth.db"
sqlite3 "$T/state/hearth.db" "DELETE FROM cameras"
# That release deleted a household 3: only its audit rows remember the id.
sqlite3 "$T/state/hearth.db" "INSERT INTO audit (at, kind, household_id, detail) VALUES
  (1764000700000000, 'household-delete', 3, 'household 3 “Gone” deleted')"
start_gateway
ctl household list | tee "$T/households.log"
grep -q "Flat 2" "$T/households.log" || fail "households lost in the upgrade"
# A household added now gets an id no household ever had: none of the old
# rows shows under it.
ctl household add Attic
attic=$(ctl --json household list | json '[h["id"] for h in j["households"] if h["name"] == "Attic"][0]')
[ "$attic" -gt 3 ] || fail "the new household got id $attic, which a deleted one had"
[ "$(ctl --json audit --since 3650d | json "','.join(e['kind'] for e in j['events'] if e['household_id'] == $attic)")" = \
  household-add ] || fail "audit rows under household $attic: $(ctl audit --since 3650d)"
ctl display list | tee "$T/displays.log"
grep -q "Living room" "$T/displays.log" || fail "displays lost in the upgrade"
[ "$(sqlite3 "$T/state/hearth.db" "PRAGMA user_version")" -ge 1 ] || fail "no schema version"
stop_gateway

# The oldest release let names repeat, ignoring case (households "Home",
# "home", "HOME"; cameras "Door", "door", "Door" in one household): the
# upgrade keeps every row, renames the later ones, and says so.
mkdir -m 700 "$T/names"
cp "$HEARTH_STORE_FIXTURE_NAMES" "$T/names/hearth.db"
chmod 600 "$T/names/hearth.db"
# Its cameras at LAN addresses move to where nothing answers.
sqlite3 "$T/names/hearth.db" "UPDATE cameras SET url = 'rtsp://127.0.0.1:1/' || id"
ctl() { "$BIN_CTL" --state-dir "$T/names" "$@"; }
env -u G_DEBUG "$BIN_HEARTHD" --state-dir "$T/names" --listen 127.0.0.1:0 \
  --pairing-listen 127.0.0.1:0 >"$T/names.log" 2>&1 &
names_pid=$!
PIDS+=($names_pid)
wait_for 20 "hearthd on the database with repeated names" ctl status
[ "$(ctl --json household list | json '",".join(h["name"] for h in j["households"])')" = \
  "Home,Flat 2,home (3),HOME (4),Home (2)" ] || fail "households: $(ctl household list)"
[ "$(ctl --json camera list | json '",".join(sorted(c["name"] for c in j["cameras"] if c["household"] == "Home"))')" = \
  "Door,Door (3),door (2)" ] || fail "cameras: $(ctl camera list)"
[ "$(ctl --json camera list | json 'len(j["cameras"])')" -eq 7 ] || fail "a camera was lost"
[ "$(grep -c "Upgrading the store: .* renamed" "$T/names.log")" -eq 5 ] ||
  fail "the renames were not logged: $(cat "$T/names.log")"
[ "$(ctl audit --since 3650d | grep -c renamed)" -eq 5 ] || fail "the renames were not audited: $(ctl audit --since 3650d)"
kill -TERM $names_pid
wait $names_pid || fail "hearthd on the upgraded names exited with $?"
ctl() { "$BIN_CTL" --state-dir "$T/state" "$@"; }

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
