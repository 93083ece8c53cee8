#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks an LL-HLS media playlist as served, against the rules of
draft-pantos-hls-rfc8216bis for a live playlist with parts, and the media it
lists against what the playlist says of it.

  hls-check.py [--text-only] PLAYLIST STATE BASE-URL CURL-ARGS...

PLAYLIST is the playlist's text in a file; BASE-URL the URL its URIs are
relative to; CURL-ARGS what curl needs to fetch them (certificates). STATE is
a JSON file kept between calls on one camera's playlist: a segment keeps its
media sequence number from one playlist to the next, and media sequence
numbers never go back. With --text-only the media is not fetched (for a
playlist read a while ago, whose parts may be gone), and what the parts last
is only checked to be positive.

Prints one line per problem and exits 1 if there is any.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

problems = []


def problem(text):
    problems.append(text)


def attributes(text):
    return dict(m.group(1, 2) if m.group(2)[0] != '"' else (m.group(1), m.group(2)[1:-1])
                for m in re.finditer(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text))


def one(tags, name):
    if len(tags.get(name, [])) != 1:
        problem(f"{name} appears {len(tags.get(name, []))} times, not once")
        return None
    return tags[name][0]


def fetch(base, curl, name, path, required=True):
    code = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", path, "-w", "%{http_code}",
                           *curl, base + name], capture_output=True, text=True).stdout
    if code != "200":
        if required:
            problem(f"{name}: HTTP {code}")
        return False
    return True


def packets(init, part):
    """(codec_type, pts_time, dts_time, duration_time, keyframe) of init+part."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        for path in (init, part):
            with open(path, "rb") as src:
                f.write(src.read())
        f.flush()
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                              "packet=codec_type,pts_time,dts_time,duration_time,flags",
                              "-of", "csv=p=0", f.name],
                             capture_output=True, text=True, check=True).stdout
    result = []
    for line in out.split():
        kind, pts, dts, duration, flags = line.split(",")[:5]
        result.append((kind, float(pts), float(dts), float(duration) if duration != "N/A" else 0.0,
                       flags.startswith("K")))
    return result


def main():
    args = sys.argv[1:]
    text_only = args[:1] == ["--text-only"]
    if text_only:
        args = args[1:]
    playlist, state_path, base, curl = args[0], args[1], args[2], args[3:]
    lines = open(playlist).read().splitlines()
    if not lines or lines[0] != "#EXTM3U":
        problem("does not begin with #EXTM3U")

    tags = {}
    segments = []        # {"uri", "extinf", "parts": [part attributes]}
    parts = []           # of the segment being read
    extinf = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-PART:"):
            parts.append(attributes(line[len("#EXT-X-PART:"):]))
        elif line.startswith("#EXTINF:"):
            extinf = float(line[len("#EXTINF:"):].split(",")[0])
        elif line.startswith("#"):
            name, _, value = line.partition(":")
            tags.setdefault(name, []).append(value)
        elif line:
            if extinf is None:
                problem(f"segment {line} has no EXTINF")
            segments.append({"uri": line, "extinf": extinf, "parts": parts})
            parts, extinf = [], None
    open_parts = parts   # of the segment being filled: none of them is its last

    target = int(one(tags, "#EXT-X-TARGETDURATION") or 0)
    part_inf = attributes(one(tags, "#EXT-X-PART-INF") or "")
    part_target = float(part_inf.get("PART-TARGET", 0))
    control = attributes(one(tags, "#EXT-X-SERVER-CONTROL") or "")
    msn = int(one(tags, "#EXT-X-MEDIA-SEQUENCE") or 0)
    map_uri = attributes(one(tags, "#EXT-X-MAP") or "").get("URI", "")
    hints = tags.get("#EXT-X-PRELOAD-HINT", [])

    if part_target <= 0:
        problem("no PART-TARGET")
    if control.get("CAN-BLOCK-RELOAD") != "YES":
        problem("EXT-X-SERVER-CONTROL without CAN-BLOCK-RELOAD=YES")
    if float(control.get("PART-HOLD-BACK", 0)) < 3 * part_target - 1e-9:
        problem(f"PART-HOLD-BACK {control.get('PART-HOLD-BACK')} is under 3 x PART-TARGET {part_target}")
    if len(hints) != 1 or attributes(hints[0]).get("TYPE") != "PART" or not attributes(hints[0]).get("URI"):
        problem(f"not one EXT-X-PRELOAD-HINT of TYPE=PART with a URI: {hints}")
    if lines[-1:] and not lines[-1].startswith("#EXT-X-PRELOAD-HINT:"):
        problem("EXT-X-PRELOAD-HINT is not the last line")

    # One generation per playlist: every URI is of the generation of the
    # EXT-X-MAP; a new generation starts a new playlist.
    generation = re.fullmatch(r"init-(\d+)\.mp4", map_uri)
    if not generation:
        problem(f"EXT-X-MAP URI {map_uri!r} is not an init segment")
    else:
        media = [s["uri"] for s in segments] + [p.get("URI", "") for s in segments for p in s["parts"]] + \
                [p.get("URI", "") for p in open_parts] + [attributes(h).get("URI", "") for h in hints]
        for uri in media:
            if not re.fullmatch(rf"(seg|part)-{generation.group(1)}-\d+\.m4s", uri):
                problem(f"{uri} is not of the generation of {map_uri}")

    all_parts = []
    for seg in segments:
        if round(seg["extinf"]) > target:
            problem(f"{seg['uri']}: EXTINF {seg['extinf']} rounds above EXT-X-TARGETDURATION {target}")
        if seg["parts"]:
            total = sum(float(p["DURATION"]) for p in seg["parts"])
            if abs(total - seg["extinf"]) > 0.0006 * (len(seg["parts"]) + 1):
                problem(f"{seg['uri']}: EXTINF {seg['extinf']} is not the sum of its parts ({total:.3f})")
        for i, p in enumerate(seg["parts"]):
            all_parts.append((p, i == len(seg["parts"]) - 1))
    all_parts += [(p, False) for p in open_parts]
    for p, _ in all_parts:
        if not float(p.get("DURATION", -1)) > 0:
            problem(f"{p.get('URI')}: DURATION {p.get('DURATION')} is not positive")

    # Media sequence numbers, across reloads of one camera's playlist; a new
    # generation (another EXT-X-MAP) is a discontinuity: a tag before its
    # first segment, or one that slid out (a higher DISCONTINUITY-SEQUENCE).
    state = json.load(open(state_path)) if os.path.exists(state_path) else \
        {"msn": -1, "segments": {}, "map": map_uri, "discontinuity": 0}
    discontinuity = int((tags.get("#EXT-X-DISCONTINUITY-SEQUENCE") or ["0"])[0])
    if msn < state["msn"]:
        problem(f"EXT-X-MEDIA-SEQUENCE went back from {state['msn']} to {msn}")
    if discontinuity < state["discontinuity"]:
        problem(f"EXT-X-DISCONTINUITY-SEQUENCE went back from {state['discontinuity']} to {discontinuity}")
    if map_uri != state["map"] and discontinuity == state["discontinuity"] and \
            "#EXT-X-DISCONTINUITY" not in tags:
        problem(f"a new generation ({state['map']} → {map_uri}) without a discontinuity")
    state["map"], state["discontinuity"] = map_uri, discontinuity
    for i, seg in enumerate(segments):
        known = state["segments"].get(seg["uri"])
        if known is not None and known != msn + i:
            problem(f"{seg['uri']} was media sequence {known}, now {msn + i}")
        state["segments"][seg["uri"]] = msn + i
    state["msn"] = msn
    json.dump(state, open(state_path, "w"))

    # The media: each part starts with a keyframe exactly when it says
    # INDEPENDENT=YES; it has video, and its audio is in time with that
    # (presentation times, which need not be in decode order); it lasts
    # what it says: from its first frame's decode time to the next part's
    # (the listed parts and the hinted one follow one another). Then the
    # rules of rfc8216bis 4.4.4.9 on what it lasts: at most PART-TARGET, and
    # at least 85% of it but for INDEPENDENT=YES parts and the final part of
    # a parent segment. A part at a gap in the camera's frames (a frame
    # coming over 1.5 frame durations after the one before, as on a loaded
    # machine) cannot keep both and is only counted.
    with tempfile.TemporaryDirectory() as tmp:
        init = os.path.join(tmp, "init.mp4")
        if generation and not text_only and fetch(base, curl, map_uri, init):
            held = []    # (part, final, [(decode time, duration) of its frames])
            hint = attributes(hints[0]).get("URI") if len(hints) == 1 else None
            for p, last in all_parts + [({"URI": hint}, False)]:
                path = os.path.join(tmp, "part.m4s")
                # The hinted part may not come in time (503): then the last
                # listed part's end is not known.
                if p["URI"] is None or not fetch(base, curl, p["URI"], path, p["URI"] != hint):
                    continue
                media = packets(init, path)
                video = [m for m in media if m[0] == "video"]
                audio = [m for m in media if m[0] == "audio"]
                if not video:
                    problem(f"{p['URI']}: no video, only {len(audio)} audio packets")
                    continue
                held.append((p, last, [(m[2], m[3]) for m in video]))
                if p["URI"] == hint:
                    continue
                if video[0][4] != (p.get("INDEPENDENT") == "YES"):
                    problem(f"{p['URI']}: starts with {'a' if video[0][4] else 'no'} keyframe, "
                            f"INDEPENDENT={p.get('INDEPENDENT', 'NO')}")
                start, end = min(m[1] for m in video), max(m[1] + m[3] for m in video)
                for a in audio:
                    if not start - 0.05 <= a[1] < end + 0.05:
                        problem(f"{p['URI']}: audio at {a[1]:.3f} s, out of its video's "
                                f"{start:.3f}-{end:.3f} s")
            gaps = 0
            for i, (p, last, frames) in enumerate(held[:-1]):
                following = held[i + 1][2][0][0]
                duration = following - frames[0][0]
                if abs(duration - float(p["DURATION"])) > 0.0015:
                    problem(f"{p['URI']}: DURATION {p['DURATION']}, but it holds {duration:.4f} s")
                times = [f[0] for f in frames] + [following]
                if any(b - a > 1.5 * f[1] for a, b, f in zip(times, times[1:], frames)):
                    gaps += 1
                    continue
                if duration > part_target + 0.0005:
                    problem(f"{p['URI']}: DURATION {p['DURATION']} is over PART-TARGET {part_target}")
                if duration < 0.85 * part_target and p.get("INDEPENDENT") != "YES" and not last:
                    problem(f"{p['URI']}: DURATION {p['DURATION']} is under 85% of "
                            f"PART-TARGET {part_target}")
            if gaps:
                print(f"# {gaps} parts at a gap in the camera's frames", file=sys.stderr)

    for text in problems:
        print(text)
    sys.exit(1 if problems else 0)


main()
