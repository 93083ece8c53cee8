#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The torture test, again and again, until enough frames are checked.

Runs the isolation torture test (tests/torture/torture.py, through `meson
test` so it gets the suite's environment) with a new seed each time, JOBS
runs at once, until at least FRAMES frames (live and over HLS) have been
checked, or until a run fails. Prints one row per run and the totals, and
writes them as JSON. Not part of the suite: it takes an hour or more.

  tests/torture/soak.py [--build build] [--frames 1000000] [--jobs 1]
                        [--seconds 300] [--displays 6] [--fps 30]
                        [--json soak.json] [--seed N]...

--seed replays given seeds first (then new ones). A failed run's seed is
printed; HEARTH_TORTURE_SEED=SEED replays it alone with
`meson test -C BUILD torture` (with the same --seconds/--displays/--fps as
HEARTH_TORTURE_SECONDS/_DISPLAYS/_FPS).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--displays", type=int, default=6)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--json", default="soak.json")
    ap.add_argument("--seed", type=int, action="append", default=[])
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    rng = random.SystemRandom()
    lock = threading.Lock()
    runs = []
    totals = {"frames": 0, "live_frames": 0, "hls_frames": 0, "hls_parts": 0,
              "snapshots": 0, "cross_household": 0, "violations": 0, "faults": 0}
    failed = []
    started = time.monotonic()
    # meson's own deadline for the torture test is 900 s; longer runs get more.
    multiplier = max(1, -(-(args.seconds + 300) // 900))
    print(f"{'run':>4} {'seed':>11} {'frames':>9} {'HLS parts':>9} {'snapshots':>9} "
          f"{'faults':>6} {'cross':>5} {'wall s':>7}  result", flush=True)

    def one(index, seed):
        with tempfile.NamedTemporaryFile(prefix="soak-", suffix=".json", delete=False) as f:
            summary_path = f.name
        env = dict(os.environ,
                   HEARTH_TORTURE_SEED=str(seed),
                   HEARTH_TORTURE_SECONDS=str(args.seconds),
                   HEARTH_TORTURE_DISPLAYS=str(args.displays),
                   HEARTH_TORTURE_FPS=str(args.fps),
                   HEARTH_TORTURE_SUMMARY=summary_path)
        t0 = time.monotonic()
        rc = subprocess.run(
            ["meson", "test", "-C", build, "--no-rebuild", "--suite", "torture",
             "--logbase", f"soak-{index}", "--timeout-multiplier", str(multiplier)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        wall = time.monotonic() - t0
        try:
            with open(summary_path) as f:
                s = json.load(f)
        except (OSError, ValueError):
            s = {"seed": seed, "failed": ["no summary (the run did not finish)"]}
        os.unlink(summary_path)
        s["wall_seconds"] = round(wall, 1)
        s["log"] = os.path.join(build, "meson-logs", f"soak-{index}.txt")
        ok = rc == 0 and not s.get("failed")
        with lock:
            runs.append(s)
            for k in totals:
                if k == "faults":
                    totals[k] += sum(s.get("faults", {}).values())
                else:
                    totals[k] += s.get(k, 0)
            if not ok:
                failed.append(s)
            print(f"{index:>4} {seed:>11} {s.get('frames', 0):>9} {s.get('hls_parts', 0):>9} "
                  f"{s.get('snapshots', 0):>9} {sum(s.get('faults', {}).values()):>6} "
                  f"{s.get('cross_household', 0):>5} {wall:>7.0f}  "
                  + ("ok" if ok else "FAILED: " + "; ".join(s.get("failed") or
                                                             [f"meson test exit {rc}"])
                     + f" (log {s['log']})"), flush=True)

    index = 0
    active = []
    while True:
        active = [t for t in active if t.is_alive()]
        with lock:
            done = totals["frames"] >= args.frames or failed
            # Runs under way count towards the target with what a run checks
            # on average, so the last ones are not started for nothing.
            expected = totals["frames"] + len(active) * (
                totals["frames"] / len(runs) if runs else 0)
        if done:
            break
        if len(active) < args.jobs and (not runs or expected < args.frames):
            index += 1
            seed = args.seed[index - 1] if index <= len(args.seed) else rng.randrange(2**31)
            t = threading.Thread(target=one, args=(index, seed))
            t.start()
            active.append(t)
            continue
        if not active:
            continue
        active[0].join(timeout=5)
    for t in active:
        t.join()

    wall = time.monotonic() - started
    print()
    print(f"runs: {len(runs)} ({args.jobs} at once, {args.seconds} s of faults each, "
          f"{args.displays} displays per household, cameras at {args.fps} fps)")
    print(f"frames checked: {totals['frames']} ({totals['live_frames']} live, "
          f"{totals['hls_frames']} over HLS); HLS parts: {totals['hls_parts']}; "
          f"snapshots: {totals['snapshots']}; faults injected: {totals['faults']}")
    print(f"cross-household frames and snapshots: {totals['cross_household']}; "
          f"violations of any kind: {totals['violations']}")
    print(f"seeds: {' '.join(str(r['seed']) for r in runs)}")
    print(f"wall time: {wall / 60:.1f} min")
    with open(args.json, "w") as f:
        json.dump({"args": vars(args), "totals": totals, "wall_seconds": round(wall),
                   "runs": runs}, f, indent=1)
    print(f"written: {args.json}")
    if failed:
        print(f"FAILED: {len(failed)} run(s) failed; seeds "
              + " ".join(str(s['seed']) for s in failed))
        return 1
    if totals["frames"] < args.frames:
        print(f"FAILED: only {totals['frames']} of {args.frames} frames checked")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
