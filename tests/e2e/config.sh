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
# (plugin-dir's shown default names the architecture's directory as
# <multiarch>; --check-config loads the plugins, here the build's.)
sed -e 's/^#\([a-z-]* = \)/\1/' -e "s|^plugin-dir = .*<multiarch>.*|plugin-dir = $HEARTH_BUILD_DIR/plugins|" \
  "$shipped" >"$T/all.conf"
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

refused '[gateway]\nname = Hearth\n\n[pairing]\nttl-seconds = 60\n[gateway]\nname = Other\n' \
  '7: [gateway] name: set a second time (line 2 sets it first)'
refused '[gateway]\nname = Hearth\x01\n' '2: [gateway] name contains a control character'
refused '[gateway]\nlocal-networks = 0.0.0.0/0;::/0\n' \
  '2: [gateway] local-networks: 0.0.0.0/0 holds addresses that are not local (every range must lie inside 127.0.0.0/8;10.0.0.0/8;172.16.0.0/12;192.168.0.0/16;169.254.0.0/16;::1/128;fc00::/7;fe80::/10), so it would let the gateway serve and dial past the local network'
rc=0
"$BIN_HEARTHD" --check-config --local-networks '192.168.0.0/16;8.0.0.0/7' 2>"$T/err.log" || rc=$?
[ $rc -eq 78 ] && grep -q '^hearthd: --local-networks: 8.0.0.0/7 holds addresses that are not local' "$T/err.log" ||
  fail "--local-networks with public addresses: exit $rc, $(cat "$T/err.log")"

# Every setting the parser knows (its own list, which it prints for an unknown
# one) with each of these values: whatever --check-config passes, hearthd
# starts with (it must not exit 69 or 78 at start-up, as a systemd
# ExecStartPre would not see that). The settings that take a value are
# started together, once per value (each alone if together they are refused).
known() {
  printf '%b' "$1" >"$T/probe.conf"
  { "$BIN_HEARTHD" --check-config --config "$T/probe.conf" 2>&1 || true; } |
    sed -n 's/.*(known[^:]*: \([^)]*\))$/\1/p' | tr -d ' ' | tr , ' '
}
long=$(printf 'x%.0s' $(seq 300))
# (Public ranges and addresses are refused above.)
values=('' 'a\x01b' 'a\xffb' "$long" '99999999999999999999' 'abc' 'hearth.conf')
declare -A base=([gateway/state-dir]=state [gateway/listen]=127.0.0.1:0
                 [gateway/pairing-listen]=127.0.0.1:0 [discovery/enabled]=false)
sections=$(known '[zz-no-such-section]\n')
[ -n "$sections" ] || fail "--check-config did not list its sections"
settings=()
for section in $sections; do
  for key in $(known "[$section]\nzz-no-such-key = 1\n"); do
    settings+=("$section/$key")
  done
done
[ ${#settings[@]} -ge 19 ] || fail "--check-config listed only ${#settings[@]} settings"
runs=0 checked=0 started=0

# write_config DIR VALUE SETTING...: base settings, and each SETTING = VALUE.
write_config() {
  local dir=$1 value=$2 s k
  shift 2
  mkdir -p "$dir"
  : >"$dir/hearth.conf"
  for s in $sections; do
    echo "[$s]"
    for k in "${!base[@]}"; do
      if [ "${k%%/*}" = "$s" ] && [[ " $* " != *" $k "* ]]; then
        echo "${k#*/} = ${base[$k]}"
      fi
    done
    for k in "$@"; do
      if [ "${k%%/*}" = "$s" ]; then
        printf '%s = %b\n' "${k#*/}" "$value"
      fi
    done
  done >>"$dir/hearth.conf"
}
passes() { (cd "$1" && "$BIN_HEARTHD" --check-config --config hearth.conf) >/dev/null 2>&1; }

# starts DIR WHAT: hearthd comes up with DIR/hearth.conf, and stops with 0.
starts() {
  local dir=$1 what=$2 pid rc deadline
  started=$((started + 1))
  : >"$dir/hearthd.log"
  (cd "$dir" && exec env -u G_DEBUG "$BIN_HEARTHD" --config hearth.conf) >>"$dir/hearthd.log" 2>&1 &
  pid=$!
  deadline=$((SECONDS + 60))
  until grep -q 'serving streams on port' "$dir/hearthd.log"; do
    if ! kill -0 $pid 2>/dev/null; then
      rc=0
      wait $pid || rc=$?
      fail "$what passes --check-config, but hearthd exited $rc: $(cat "$dir/hearthd.log")"
    fi
    [ $SECONDS -lt $deadline ] || fail "hearthd did not start with $what"
    sleep 0.1
  done
  kill -TERM $pid
  rc=0
  wait $pid || rc=$?
  [ $rc -eq 0 ] || fail "hearthd exited $rc on SIGTERM with $what"
}

for value in "${values[@]}"; do
  accepted=()
  for setting in "${settings[@]}"; do
    runs=$((runs + 1))
    checked=$((checked + 1))
    write_config "$T/run-$runs" "$value" "$setting"
    if passes "$T/run-$runs"; then
      accepted+=("$setting")
    fi
  done
  [ ${#accepted[@]} -gt 0 ] || continue
  runs=$((runs + 1))
  write_config "$T/run-$runs" "$value" "${accepted[@]}"
  if passes "$T/run-$runs"; then
    starts "$T/run-$runs" "“$value” for ${accepted[*]}"
  else
    for setting in "${accepted[@]}"; do
      runs=$((runs + 1))
      write_config "$T/run-$runs" "$value" "$setting"
      starts "$T/run-$runs" "$setting = “$value”"
    done
  fi
done
log "$checked settings checked, hearthd started $started times with those --check-config passed"

# A command-line override that fixes the bad value is not blamed on the file.
printf '[gateway]\nlisten = 8.8.8.8:8443\n' >"$T/override.conf"
"$BIN_HEARTHD" --check-config --config "$T/override.conf" --listen 127.0.0.1:8443 >/dev/null ||
  fail "--listen did not override the file"
log "ok"
