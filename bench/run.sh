#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Streaming benchmark (not a test; nothing runs it but a person):
#
#   bench/run.sh [BUILD_DIR] [--json FILE]
#
# A fake camera at about 4 Mbit/s → hearthd → N displays with client
# certificates (hearth-bench), N = 1, 10, 50, 100; then the same bytes (a
# recording of the camera's live.mp4) from nginx with mutual TLS
# (ssl_verify_client optional_no_ca), throttled per connection to the
# camera's rate, to the same N. Measures time to first keyframe for new
# displays, added latency (stamp capture → display receipt), server CPU per
# delivered GB and % of a core (hearthd's also without its CPU with the
# camera and no display: serving alone), and hearthd's memory: base, per
# camera, per display connection. Prints a table and writes JSON. Everything runs on
# loopback and stops by itself.
#
# Cameras per core (optional, HEARTH_BENCH_CAMERAS="10 20"): N cameras at
# about 4 Mbit/s ingested (N camera rows on the one fake camera, which
# serves one shared media to every RTSP client, so that its encoder is not
# what is measured), one display each; hearthd's CPU (ingest and serving)
# and memory per camera, and the cameras one core would carry at that CPU.
# Then the same N cameras with G.711 audio (a second fake camera with
# --audio pcma): the difference per camera is the G.711 → AAC transcode's
# CPU.
#
# Heap profile (optional, HEARTH_BENCH_HEAPTRACK=FILE): hearthd runs under
# heaptrack, which writes FILE.zst at the end.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
[ "${1:-}" = "" ] || shift
OUT_JSON=$BUILD/bench/results.json
if [ "${1:-}" = --json ]; then OUT_JSON=$2; fi
SECONDS_PER_RUN=${HEARTH_BENCH_SECONDS:-10}
COUNTS=${HEARTH_BENCH_COUNTS:-"1 10 50 100"}
CAMERA_COUNTS=${HEARTH_BENCH_CAMERAS:-}
JOINS=${HEARTH_BENCH_JOINS:-200}
RECORD_SECONDS=${HEARTH_BENCH_RECORD_SECONDS:-40}

BIN_HEARTHD=$BUILD/gateway/hearthd
BIN_CTL=$BUILD/gateway/hearthctl
BIN_DISPLAY=$BUILD/display/hearth-display
BIN_CAMERA=$BUILD/tests/tools/fake-camera
BIN_BENCH=$BUILD/bench/hearth-bench
for b in "$BIN_HEARTHD" "$BIN_CTL" "$BIN_DISPLAY" "$BIN_CAMERA" "$BIN_BENCH"; do
  [ -x "$b" ] || { echo "run.sh: $b is missing; build $BUILD first" >&2; exit 1; }
done
if ! command -v nginx >/dev/null; then
  echo "# installing nginx (for the reference measurement)"
  apt-get install -y --no-install-recommends nginx >/dev/null
fi

T=$(mktemp -d /tmp/hearth-bench-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
log() { echo "# $*" >&2; }
ctl() { "$BIN_CTL" --state-dir "$T/state" "$@"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# wait_for SECONDS WHAT CMD..., as the end-to-end tests wait.
source "$SRC/tests/e2e/wait.sh"

# The camera: 640x360 noise at 4 Mbit/s, 30 fps, a keyframe a second.
(exec "$BIN_CAMERA" --address 127.0.0.1 --port 0 --pattern snow --bitrate 4000 \
  --ready-file "$T/camera.ready" >"$T/camera.log" 2>&1) &
PIDS+=($!)
wait_for 20 "the camera" test -s "$T/camera.ready"
camera_url=$(cut -d' ' -f1 "$T/camera.ready")

cat >"$T/hearthd.conf" <<CONF
[limits]
max-connections = 1000
# Every display of the benchmark connects from 127.0.0.1, all at once.
max-handshakes = 500
max-handshakes-per-peer = 500
max-streams-per-display = 8
# The displays are all of one household.
max-connections-per-household = 1000
CONF
# HEARTH_BENCH_HEAPTRACK=FILE: hearthd runs under heaptrack, which writes
# FILE.zst when hearthd stops at the end (read it with heaptrack_print; the
# RSS figures then include heaptrack's own).
wrap=()
if [ -n "${HEARTH_BENCH_HEAPTRACK:-}" ]; then
  command -v heaptrack >/dev/null ||
    { echo "run.sh: HEARTH_BENCH_HEAPTRACK needs heaptrack (apt-get install heaptrack)" >&2; exit 1; }
  wrap=(heaptrack -o "$HEARTH_BENCH_HEAPTRACK")
fi
(exec "${wrap[@]}" "$BIN_HEARTHD" --config "$T/hearthd.conf" --state-dir "$T/state" --plugin-dir "$BUILD/plugins" \
  --listen 127.0.0.1:0 --pairing-listen 127.0.0.1:0 >"$T/hearthd.log" 2>&1) &
gateway=$!
# Slower to start under heaptrack.
wait_for 120 "hearthd" ctl status
# The daemon itself (under heaptrack, a child of the wrapper): what is
# measured, and what is stopped first at the end, so that heaptrack can finish.
gateway=$(pgrep -n -f "^$BIN_HEARTHD --config $T/hearthd.conf" || echo "$gateway")
PIDS+=($gateway)
port=$(ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["stream_port"])')
sleep 2
mem_base=$(rss_kib "$gateway")

ctl household add Bench >/dev/null
cam=$(ctl camera add --household Bench --name Noise "$camera_url" 2>/dev/null)
streaming() { ctl --json camera stats "$cam" | grep -q '"state" *: *"streaming"'; }
wait_for 30 "the camera to stream" streaming
sleep 3
mem_camera=$(rss_kib "$gateway")
bitrate=$(ctl --json camera stats "$cam" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bitrate_kbps"])')

# hearthd's CPU with the camera streaming and no display (the ingest, and
# whatever else runs without displays): subtracted from each run's CPU to
# give what serving the displays alone costs, which is what nginx does.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
log "measuring hearthd's CPU with no display (ingest only)"
idle_ticks=$(cpu_ticks "$gateway")
idle_start=$(date +%s.%N)
sleep "$SECONDS_PER_RUN"
idle_ticks=$(( $(cpu_ticks "$gateway") - idle_ticks ))
idle_core=$(python3 -c "import sys; print($idle_ticks / $(getconf CLK_TCK) / ($(date +%s.%N) - $idle_start))")

# The camera's own lag (stamp capture → the same mux as the ingest, without
# the gateway): subtracted from the displays' lag to give what hearthd adds.
log "measuring the camera's own latency"
timeout 12 gst-launch-1.0 -q rtspsrc location="$camera_url" protocols=tcp ! \
  rtph264depay ! h264parse ! video/x-h264,stream-format=avc,alignment=au ! \
  mp4mux fragment-duration=1 streamable=true ! fdsink fd=1 2>/dev/null |
  "$BUILD/tests/tools/fmp4-stamps" --frames 300 >"$T/baseline.txt" || true

# Displays: enough identities that no display passes its stream limit.
max_n=0
for n in $COUNTS $CAMERA_COUNTS; do [ "$n" -gt "$max_n" ] && max_n=$n; done
n_ids=$(( max_n / 4 + 1 ))   # at most 4 streams per display, well under the limit
identities=()
log "pairing $n_ids displays"
for i in $(seq 1 "$n_ids"); do
  payload=$(ctl pair --household Bench --print-payload)
  "$BIN_DISPLAY" --config-dir "$T/display-$i" pair "$payload" --name "bench-$i" >/dev/null
  identities+=(--identity "$T/display-$i/display.crt:$T/display-$i/display.key")
done

# The same bytes for nginx: RECORD_SECONDS of the camera's live.mp4 as a display got it.
log "recording the stream for nginx"
curl -sS --cert "$T/display-1/display.crt" --key "$T/display-1/display.key" \
  --cacert "$T/state/ca.crt" --max-time "$RECORD_SECONDS" \
  "https://127.0.0.1:$port/v1/cameras/$cam/live.mp4" -o "$T/www/live.mp4" --create-dirs || true
rate=$(( $(stat -c %s "$T/www/live.mp4") / RECORD_SECONDS ))
# nginx's workers drop root: let them read the recording.
chmod a+rx "$T" "$T/www"
chmod a+r "$T/www/live.mp4"

certtool --generate-privkey --key-type ecdsa --outfile "$T/nginx.key" 2>/dev/null
certtool --generate-self-signed --load-privkey "$T/nginx.key" \
  --template <(printf 'cn = 127.0.0.1\nip_address = 127.0.0.1\nexpiration_days = 2\ntls_www_server\n') \
  --outfile "$T/nginx.crt" 2>/dev/null
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/nginx.conf" <<CONF
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
daemon on;
events { worker_connections 2048; }
http {
  access_log off;
  sendfile off;
  types { video/mp4 mp4; }
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $T/nginx.crt;
    ssl_certificate_key $T/nginx.key;
    ssl_protocols TLSv1.3;
    ssl_verify_client optional_no_ca;
    root $T/www;
    limit_rate $rate;
    location / { }
  }
}
CONF
nginx -c "$T/nginx.conf" -p "$T"
wait_for 10 "nginx" test -s "$T/nginx.pid"
nginx_worker=$(pgrep -P "$(cat "$T/nginx.pid")" | head -1)

run() { # run NAME URL CERT PID N JOINS
  local out
  log "$1 N=$5"
  out=$("$BIN_BENCH" --url "$2" --server-cert "$3" --server-pid "$4" --displays "$5" \
    --seconds "$SECONDS_PER_RUN" --joins "$6" --timeout 120 "${identities[@]}") ||
    { echo "run.sh: hearth-bench failed for $1 N=$5" >&2; exit 1; }
  echo "{\"server\": \"$1\", \"result\": $out}" >>"$T/runs.jsonl"
}
for n in $COUNTS; do
  joins=$(( n == 50 ? JOINS : 20 ))
  run hearthd "https://127.0.0.1:$port/v1/cameras/$cam/live.mp4" "$T/state/gateway.crt" "$gateway" "$n" "$joins"
  run nginx "https://127.0.0.1:$nginx_port/live.mp4" "$T/nginx.crt" "$nginx_worker" "$n" 0
done

# Cameras per core: more camera rows on the same fake camera, one display
# each; then as many rows on a camera that sends G.711 too.
touch "$T/cameras.jsonl"
cameras_per_core() { # cameras_per_core AUDIO URL FIRST-CAMERA...
  local audio=$1 url=$2
  shift 2
  cams=("$@")
  for n in $CAMERA_COUNTS; do
    while [ "${#cams[@]}" -lt "$n" ]; do
      cams+=("$(ctl camera add --household Bench --name "Noise-$audio-${#cams[@]}" "$url" 2>/dev/null)")
    done
    all_streaming() {
      for c in "${cams[@]}"; do
        ctl --json camera stats "$c" | grep -q '"state" *: *"streaming"' || return 1
      done
    }
    wait_for 60 "$n cameras to stream" all_streaming
    sleep 3
    urls=()
    for c in "${cams[@]}"; do urls+=(--url "https://127.0.0.1:$port/v1/cameras/$c/live.mp4"); done
    log "hearthd cameras=$n audio=$audio"
    out=$("$BIN_BENCH" "${urls[@]}" --server-cert "$T/state/gateway.crt" --server-pid "$gateway" \
      --displays "$n" --seconds "$SECONDS_PER_RUN" --joins 0 --timeout 120 "${identities[@]}") ||
      { echo "run.sh: hearth-bench failed for $n cameras" >&2; exit 1; }
    echo "{\"cameras\": $n, \"audio\": \"$audio\", \"rss_kib\": $(rss_kib "$gateway"), \"result\": $out}" >>"$T/cameras.jsonl"
  done
}
if [ -n "$CAMERA_COUNTS" ]; then
  cameras_per_core none "$camera_url" "$cam"
  # Only the G.711 cameras ingest from here on.
  for c in "${cams[@]}"; do ctl camera remove "$c" >/dev/null; done
  (exec "$BIN_CAMERA" --address 127.0.0.1 --port 0 --pattern snow --bitrate 4000 --audio pcma \
    --ready-file "$T/camera-pcma.ready" >"$T/camera-pcma.log" 2>&1) &
  PIDS+=($!)
  wait_for 20 "the G.711 camera" test -s "$T/camera-pcma.ready"
  cameras_per_core pcma "$(cut -d' ' -f1 "$T/camera-pcma.ready")"
fi

mkdir -p "$(dirname "$OUT_JSON")"
python3 - "$OUT_JSON" "$mem_base" "$mem_camera" "$bitrate" "$rate" "$T/runs.jsonl" "$T/baseline.txt" "$T/cameras.jsonl" "$idle_core" "$(uptime)" <<'PY'
import json, os, sys
out, base, camera, bitrate, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
idle_core, load = float(sys.argv[9]), sys.argv[10].strip()
runs = [json.loads(line) for line in open(sys.argv[6])]
lags = sorted(float(l.split("lag-ms=")[1].split()[0]) for l in open(sys.argv[7]).readlines()[60:]
              if "lag-ms=" in l and "none" not in l)
pct = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] if v else None
cam_p50, cam_p99 = pct(lags, 0.5), pct(lags, 0.99)
for r in runs:
    res = r["result"]
    if r["server"] == "hearthd" and cam_p50 is not None and res["lag_samples"]:
        res["added_lag_ms_p50"] = res["lag_ms_p50"] - cam_p50
        res["added_lag_ms_p99"] = res["lag_ms_p99"] - cam_p50
    if r["server"] == "hearthd" and res["bytes"] > 0:
        # Serving alone: the run's CPU minus what hearthd spends with no display.
        res["serve_cpu_s"] = res["server_cpu_s"] - idle_core * res["seconds"]
        res["serve_cpu_s_per_gb"] = res["serve_cpu_s"] / (res["bytes"] / 1e9)
hearth = {r["result"]["displays"]: r["result"] for r in runs if r["server"] == "hearthd"}
nginx = {r["result"]["displays"]: r["result"] for r in runs if r["server"] == "nginx"}
ns = sorted(hearth)
per_display = None
if len(ns) > 1 and ns[-1] > ns[0]:
    per_display = (hearth[ns[-1]]["server_rss_kib"] - hearth[ns[0]]["server_rss_kib"]) / (ns[-1] - ns[0])
summary = {
    "camera_kbps": bitrate, "nginx_limit_rate_bytes_per_s": rate,
    "camera_own_lag_ms": {"p50": cam_p50, "p99": cam_p99},
    "no_display_core_percent": 100 * idle_core, "uptime_at_end": load,
    "memory_kib": {"base": base, "per_camera": camera - base, "per_display": per_display},
    "runs": runs,
}
cameras = [json.loads(line) for line in open(sys.argv[8])]
summary["cameras"] = cameras
json.dump(summary, open(out, "w"), indent=2)
print(f"camera: {bitrate:.0f} kbit/s; nginx limit_rate {rate} B/s per connection")
print(f"hearthd memory: base {base} KiB, per camera {camera - base} KiB, per display connection "
      + (f"{per_display:.1f} KiB" if per_display is not None else "n/a"))
print()
print(f"camera's own lag (capture → ingest mux, no gateway): p50 {cam_p50} ms, p99 {cam_p99} ms")
print(f"hearthd with the camera and no display: {100 * idle_core:.2f} % of a core (ingest); load: {load}")
if os.environ.get("HEARTH_BENCH_HEAPTRACK"):
    print("hearthd ran under heaptrack: its CPU, memory and latency figures include heaptrack's own")
hdr = f"{'N':>4} {'server':<8} {'Mbit/disp':>9} {'CPU-s/GB':>9} {'serve/GB':>9} {'%core':>7} {'ratio':>6} {'r.serve':>7} {'TTFF p50':>9} {'TTFF p99':>9} {'joins':>5} {'add p50':>8} {'add p99':>8}  cipher"
print(hdr)
for n in ns:
    for name, table in (("hearthd", hearth), ("nginx", nginx)):
        r = table.get(n)
        if r is None:
            continue
        ratio = ratio_serve = ""
        serve = r.get("serve_cpu_s_per_gb", r["cpu_s_per_gb"] if name == "nginx" else None)
        if name == "hearthd" and n in nginx and nginx[n]["cpu_s_per_gb"] > 0:
            ratio = f"{r['cpu_s_per_gb'] / nginx[n]['cpu_s_per_gb']:.2f}"
            if serve is not None:
                ratio_serve = f"{serve / nginx[n]['cpu_s_per_gb']:.2f}"
        serve = f"{serve:9.2f}" if serve is not None else f"{'-':>9}"
        ttff = (f"{r['ttff_ms_p50']:9.1f} {r['ttff_ms_p99']:9.1f}" if r["joins"] else f"{'-':>9} {'-':>9}")
        lag = (f"{r['added_lag_ms_p50']:8.1f} {r['added_lag_ms_p99']:8.1f}" if "added_lag_ms_p50" in r else f"{'-':>8} {'-':>8}")
        print(f"{n:>4} {name:<8} {r['mbit_per_display']:9.2f} {r['cpu_s_per_gb']:9.2f} {serve} {r['core_percent']:7.1f} {ratio:>6} {ratio_serve:>7} {ttff} {r['joins']:>5} {lag}  {r['cipher']}")
print()
print("CPU-s/GB: the server process's whole CPU time per delivered GB (hearthd's includes its camera ingest);")
print("serve/GB: hearthd's minus its CPU with the camera and no display, i.e. serving alone (nginx: the same as")
print("CPU-s/GB, it has no ingest); ratio: hearthd CPU-s/GB / nginx's; r.serve: hearthd serve/GB / nginx's.")
print("TTFF: request sent → init segment + first keyframe received (ms); add: stamp capture → display")
print("receipt, live frames, minus the camera's own p50 (ms).")
if cameras:
    print()
    print("cameras per core: N cameras ingested, one display each (hearthd CPU: ingest + serving)")
    print(f"{'N':>4} {'audio':<5} {'%core':>7} {'%core/cam':>9} {'cams/core':>9} {'RSS MiB':>8} {'KiB/cam':>8} {'Mbit/disp':>9} {'G.711→AAC %core/cam':>20}")
    prev = None
    plain = {c["cameras"]: c["result"]["core_percent"] / c["cameras"]
             for c in cameras if c.get("audio", "none") == "none"}
    for c in cameras:
        r = c["result"]
        per_cam = r["core_percent"] / c["cameras"]
        audio = c.get("audio", "none")
        growth = ""
        if prev is not None and c["cameras"] > prev["cameras"] and audio == prev.get("audio", "none"):
            growth = f"{(c['rss_kib'] - prev['rss_kib']) / (c['cameras'] - prev['cameras']):8.0f}"
        transcode = ""
        if audio == "pcma" and c["cameras"] in plain:
            c["transcode_core_percent_per_camera"] = per_cam - plain[c["cameras"]]
            transcode = f"{c['transcode_core_percent_per_camera']:20.2f}"
        print(f"{c['cameras']:>4} {audio:<5} {r['core_percent']:7.1f} {per_cam:9.2f} {100 / per_cam if per_cam > 0 else 0:9.0f} "
              f"{c['rss_kib'] / 1024:8.1f} {growth:>8} {r['mbit_per_display']:9.2f} {transcode:>20}")
        prev = c
    json.dump(summary, open(out, "w"), indent=2)
    print("cams/core: 100 / (%core per camera), extrapolated; KiB/cam: RSS growth per added camera;")
    print("audio pcma: the same N cameras sending G.711 too, transcoded to AAC (one transcode per camera);")
    print("G.711→AAC: its %core per camera minus that of the same N cameras without audio.")
print(f"JSON: {out}")
PY
