#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What a camera's sub stream costs (a benchmark, not a test; nothing runs it
# but a person, as root):
#
#   bench/substream.sh [BUILD_DIR] [--json FILE]
#
# N fake ONVIF cameras (tests/tools/fake-onvif.py: a 1280x720 main stream
# and a 640x360 sub stream, 15 fps, in front of two fake RTSP cameras), each
# in its own host on a LAN of network namespaces (tests/e2e/netns.sh), and
# hearthd in another, for each N of HEARTH_BENCH_SUB_CAMERAS (default
# "1 3"), twice with a fresh hearthd:
#
#   main only   each camera added by hand with its main stream's URL
#   main + sub  each camera adopted by ONVIF, which ingests its sub too
#
# and over HEARTH_BENCH_SECONDS (default 20) once every stream streams,
# hearthd's CPU (% of a core: ingest only, no display) and memory (RSS);
# the difference per camera is what the sub ingest costs. Prints a table and
# writes JSON. Nothing leaves the namespaces; everything stops by itself.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
[ "${1:-}" = "" ] || shift
OUT_JSON=$BUILD/bench/substream.json
if [ "${1:-}" = --json ]; then OUT_JSON=$2; fi
SECONDS_PER_RUN=${HEARTH_BENCH_SECONDS:-20}
COUNTS=${HEARTH_BENCH_SUB_CAMERAS:-"1 3"}

# The end-to-end tests' helpers: hearthd, hearthctl, the namespaces, the
# fake ONVIF camera, and their clean-up at exit.
export HEARTH_BUILD_DIR=$BUILD HEARTH_SOURCE_DIR=$SRC
source "$SRC/tests/e2e/lib.sh"
source "$SRC/tests/e2e/netns.sh"
source "$SRC/tests/e2e/onvif-lib.sh"
_onvif_require
LAN=10.86.0
TICKS=$(getconf CLK_TCK)

password="bench-$$-$RANDOM"
printf '%s\n' "$password" >"$T/password"
chmod 600 "$T/password"

ns_lan
ns_host gw
ns_attach gw "$LAN.1/24"
max=0
for n in $COUNTS; do [ "$n" -le "$max" ] || max=$n; done
for ((i = 1; i <= max; i++)); do
  ns_host "cam$i"
  ns_attach "cam$i" "$LAN.$((10 + i))/24"
  ns_onvif "cam$i" "C$i" --user admin --password-file "$T/password" --model "Bench-$i"
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$GATEWAY_PID/stat"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$GATEWAY_PID/status"; }
streams() { # streams ID: "main sub" states
  ctl --json camera stats "$1" | json "j['state'] + ' ' + (j['sub']['state'] if j['sub'] else '-')"
}
all_streaming() { # all_streaming WANT IDS...: each camera's streams as WANT says
  local want=$1 id s
  shift
  for id in "$@"; do
    s=$(streams "$id")
    [ "${s%% *}" = streaming ] || return 1
    [ "$want" = main ] || [ "${s#* }" = streaming ] || return 1
  done
}
discovered_key() { # discovered_key ADDRESS
  ctl --json camera list --discovered | json "[c['id'] for c in j['cameras'] if c['address'] == '$1:80'][0]"
}
with_password() { # the URL with admin:PASSWORD@ in it
  sed "s|^rtsp://|rtsp://admin:$password@|" <<<"$1"
}

# measure MODE N: a fresh hearthd with N cameras (MODE main: added by hand,
# main only; sub: adopted by ONVIF, main and sub); one JSON line.
measure() {
  local mode=$1 n=$2 ids=() i key uri t0 t1 c0 c1 rss
  rm -rf "$T/state"
  ns_gateway gw
  ctl household add Bench >/dev/null
  for ((i = 1; i <= n; i++)); do
    if [ "$mode" = main ]; then
      uri=ONVIF_MAIN_URI_C$i
      ids+=("$(ctl camera add --household Bench --name "Main-$i" "$(with_password "${!uri}")")")
    else
      wait_for 20 "camera $i to be discovered" discovered_key "$LAN.$((10 + i))"
      key=$(discovered_key "$LAN.$((10 + i))")
      ids+=("$(ctl camera adopt "$key" --household Bench --user admin --password-file "$T/password")")
    fi
  done
  wait_for 60 "$n cameras to stream ($mode)" all_streaming "$mode" "${ids[@]}"
  sleep 3
  c0=$(cpu_ticks) t0=$(date +%s%N)
  sleep "$SECONDS_PER_RUN"
  c1=$(cpu_ticks) t1=$(date +%s%N)
  rss=$(rss_kib)
  echo "{\"mode\": \"$mode\", \"cameras\": $n, \"core_percent\": $(awk -v c=$((c1 - c0)) \
    -v t=$((t1 - t0)) -v hz="$TICKS" 'BEGIN { printf "%.2f", 100 * c / hz / (t / 1e9) }'), \"rss_kib\": $rss}" \
    >>"$T/runs.jsonl"
  log "$mode cameras=$n: $(tail -1 "$T/runs.jsonl")"
  stop_gateway
}

touch "$T/runs.jsonl"
for n in $COUNTS; do
  measure main "$n"
  measure sub "$n"
done

mkdir -p "$(dirname "$OUT_JSON")"
python3 - "$OUT_JSON" "$T/runs.jsonl" <<'PY'
import json, sys
out, runs = sys.argv[1], [json.loads(line) for line in open(sys.argv[2])]
json.dump({"runs": runs}, open(out, "w"), indent=2)
by = {(r["mode"], r["cameras"]): r for r in runs}
print("sub stream cost: N ONVIF cameras (1280x720 main, 640x360 sub, 15 fps), ingest only, hearthd")
print(f"{'N':>3} {'%core main':>10} {'%core +sub':>10} {'RSS main':>9} {'RSS +sub':>9} {'sub %core/cam':>13} {'sub KiB/cam':>11}")
for n in sorted({r["cameras"] for r in runs}):
    m, s = by[("main", n)], by[("sub", n)]
    print(f"{n:>3} {m['core_percent']:10.2f} {s['core_percent']:10.2f} {m['rss_kib'] / 1024:8.1f}M "
          f"{s['rss_kib'] / 1024:8.1f}M {(s['core_percent'] - m['core_percent']) / n:13.2f} "
          f"{(s['rss_kib'] - m['rss_kib']) / n:11.0f}")
print("main: cameras added by hand with their main URL; +sub: the same cameras adopted by ONVIF,")
print("main and sub ingested. Each row two fresh hearthd runs; the sub's share is the difference.")
print(f"JSON: {out}")
PY
