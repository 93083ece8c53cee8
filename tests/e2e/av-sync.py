#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A/V sync of a recorded live.mp4 from a fake camera run with --audio-ticks.

    av-sync.py MP4 STAMPS FPS BOUND-MS

The camera beeps on every second of its media's clock, the second n going
with the frame whose counter is n * FPS. STAMPS is fmp4-stamps' output for
MP4 (a frame's counter, in order); ffprobe gives each video frame's time, so
the video says where second n of the camera is on the MP4's timeline; ffmpeg
decodes the audio, and each beep's onset (1 ms windows: the first over a
tenth of the loudest after 200 ms without one) says where the audio puts it. Prints each beep's offset
(audio minus video, ms) and fails if one is beyond BOUND-MS, if they drift
more than 10 ms apart, or if fewer than two beeps were heard.
"""
import array
import subprocess
import sys


def probe(path, stream, entry):
    return subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream,
                           "-show_entries", entry, "-of", "csv=p=0", path],
                          capture_output=True, text=True, check=True).stdout.split()


def main():
    mp4, stamps, fps, bound = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    counters = [line.split("counter=")[1].split()[0] for line in open(stamps)
                if line.startswith("frame")]
    pts = [float(t) for t in probe(mp4, "v", "packet=pts_time")]
    # Where the camera's second 0 lies on the MP4's timeline, by each frame.
    video = [t - int(c) / fps for c, t in zip(counters, pts) if c != "none"]
    assert video, "no stamped frame"
    assert max(video) - min(video) < 0.01, \
        f"the video's own timeline jumps: {min(video):.3f} .. {max(video):.3f} s"
    zero = sorted(video)[len(video) // 2]

    rate = int(probe(mp4, "a", "stream=sample_rate")[0])
    start = float(probe(mp4, "a", "stream=start_time")[0])
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", mp4, "-map", "0:a", "-ac", "1",
                          "-f", "s16le", "-"], capture_output=True, check=True).stdout
    a = array.array("h", pcm)
    w = rate // 1000
    energy = [sum(x * x for x in a[i:i + w]) for i in range(0, len(a) - w, w)]
    top = max(energy)
    # A beep: the first loud millisecond after 200 without one (an AAC
    # frame's pre-echo before it stays well under a tenth of the beep).
    onsets = []
    last = None
    for k, e in enumerate(energy):
        if e > top * 0.1:
            if last is None or k - last > 200:
                onsets.append(start + k * w / rate)
            last = k
    offsets = []
    for t in onsets:
        second = t - zero
        offsets.append((second - round(second)) * 1000)
    print(f"# {len(video)} frames, {len(onsets)} beeps; audio minus video: "
          f"{', '.join(f'{o:.0f}' for o in offsets)} ms")
    assert len(onsets) >= 2, "fewer than two beeps heard"
    assert max(offsets) - min(offsets) < 10, "the audio drifts against the video"
    assert all(abs(o) < bound for o in offsets), f"audio and video more than {bound} ms apart"


if __name__ == "__main__":
    main()
