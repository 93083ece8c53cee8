#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# hearthd --check-config: the shipped /etc/hearth/hearth.conf is valid as it
# is and with every option uncommented (so each commented default is a real
# default), and a bad file is refused with exit status 78 and one line naming
# the file, the line, the section and key, and why.
source "$(dirname "$0")/lib.sh"

shipped=$HEARTH_SOURCE_DIR/packaging/hearth.conf
"$BIN_HEARTHD" --check-config --config "$shipped" | grep -qx "$shipped: OK" ||
  fail "the shipped hearth.conf is not valid"
sed 's/^#\([a-z-]* = \)/\1/' "$shipped" >"$T/all.conf"
grep -q '^listen = 0.0.0.0:8443$' "$T/all.conf" || fail "uncommenting did not work"
"$BIN_HEARTHD" --check-config --config "$T/all.conf" >/dev/null ||
  fail "the shipped hearth.conf with every option uncommented is not valid"

# Every option of the daemon is in the shipped file.
for key in name state-dir listen pairing-listen control-socket local-networks \
           ttl-seconds max-failures-per-minute max-connections max-handshakes \
           max-handshakes-per-peer max-connections-per-display \
           max-connections-per-household \
           max-streams-per-display gop-cache-bytes display-queue-bytes \
           backoff-min-ms backoff-max-ms; do
  grep -q "^#\?$key = " "$shipped" || fail "hearth.conf does not show $key"
done

# refused TEXT EXPECTED: the file is refused with exactly this message.
refused() {
  printf '%b' "$1" >"$T/bad.conf"
  local rc=0
  "$BIN_HEARTHD" --check-config --config "$T/bad.conf" >"$T/out.log" 2>"$T/err.log" || rc=$?
  [ $rc -eq 78 ] || fail "exit status $rc, not 78, for: $1"
  grep -qxF "hearthd: $T/bad.conf:$2" "$T/err.log" ||
    fail "for “$1” expected “$T/bad.conf:$2”, got “$(cat "$T/err.log")”"
}
refused '# settings\n[gateway]\nname = x\nlistn = 0.0.0.0:1\n' \
  '4: [gateway] listn: unknown option (known in [gateway]: name, state-dir, listen, pairing-listen, control-socket, local-networks)'
refused '[gateway]\n\n[limit]\nmax-connections = 3\n' \
  '3: [limit]: unknown section (known: gateway, pairing, limits, cameras, discovery)'
refused '[limits]\nmax-connections = 20000\n' \
  '2: [limits] max-connections: “20000” is not a whole number from 1 to 10000'
refused '[gateway]\n# public\nlisten = 8.8.8.8:8443\n' \
  '3: [gateway] listen: 8.8.8.8 is not a local address (see [gateway] local-networks)'
refused '[cameras]\nbackoff-min-ms = 900\nbackoff-max-ms = 100\n' \
  '2: [cameras] backoff-min-ms: 900 is larger than backoff-max-ms (100)'
refused '[pairing]\nttl-seconds = 60\nthis line is wrong\n' \
  '3: Key file contains line “this line is wrong” which is not a key-value pair, group, or comment (want “[section]”, “key = value” or “# comment”)'

# A command-line override that fixes the bad value is not blamed on the file.
printf '[gateway]\nlisten = 8.8.8.8:8443\n' >"$T/override.conf"
"$BIN_HEARTHD" --check-config --config "$T/override.conf" --listen 127.0.0.1:8443 >/dev/null ||
  fail "--listen did not override the file"
log "ok"
