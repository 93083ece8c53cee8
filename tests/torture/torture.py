#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Household isolation, proven under faults: the torture test.

Three households, six fake RTSP cameras (each stamping its own id into every
frame), nine displays that watch, disconnect and reconnect at random, while a
seeded schedule injects faults:

- between every camera and the gateway, a fault-injecting TCP proxy of this
  test: resets, stalls, delays, dropped bytes, truncation mid-frame and
  corrupted bytes;
- cameras killed and restarted (a restarted fake camera stamps a new id);
- a camera replaced by another device at the same address and port, and two
  cameras that swap addresses: half of the cameras serve RTSPS with their own
  certificate (pinned by the gateway on first use), and the replacement has
  another one; it must be quarantined, and a swapped pair refused without
  quarantine until they are back (a plain rtsp:// camera off the gateway's
  segment has no identity to check, as the README says, so only these two
  kinds of fault are aimed at the RTSPS ones);
- displays that stop reading, read slowly, or reconnect in bursts;
- displays revoked, cameras moved between households, a household deleted,
  all while streams run;
- the gateway killed with SIGKILL and restarted mid-stream.

Some displays watch over LL-HLS instead: they poll the playlist and fetch
every new part (with its generation's init segment); the frames of every part
are checked like live ones, at the time the part arrived.

Displays also ask for snapshots, now and then of another household's camera
or after they were revoked; each camera shows its own solid colour, so every
snapshot served is checked like a frame: the colour of the camera asked for,
while it was the display's household's (within one second of a change). A
snapshot of no camera's colour is counted apart as damaged in transit when
the camera asked for had a fault that can damage a frame (corrupted, dropped
or cut-short bytes) shortly before; any other camera's colour is a violation.

Every frame every display receives is checked afterwards against the timeline
of who owned what: its stamp must come from the camera the display asked for,
while that camera belonged to the display's household and the display was
paired, allowing one second for a change to bite (invariant 4), and it must
have been captured after the camera joined that household (nothing cached from
before a move is served). Before each revocation and the household deletion, a
display about to lose access starts a live.mp4 reader that reads as fast as it
can: every byte it receives more than one second after the change counts
(all but the fixed "not paired" answer, when its handshake came after). It
prints its counts and fails on any violation, any byte after a change, any
crash, or a household that received too few frames to prove anything.

Everything runs on loopback. HEARTH_TORTURE_SEED replays a run;
HEARTH_TORTURE_SECONDS sets how long the faults go on (default 60);
HEARTH_TORTURE_DISPLAYS the displays per household (default 3) and
HEARTH_TORTURE_FPS the cameras' frame rate (default 15), for longer soaks
(tests/torture/soak.py). HEARTH_TORTURE_SUMMARY names a file to write the
counts to as JSON.
"""

import asyncio
import collections
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from hearthtest import free_port, log  # noqa: E402

BUILD = os.environ["HEARTH_BUILD_DIR"]
HEARTHD = os.path.join(BUILD, "gateway", "hearthd")
HEARTHCTL = os.path.join(BUILD, "gateway", "hearthctl")
DISPLAY = os.path.join(BUILD, "display", "hearth-display")
CAMERA = os.path.join(BUILD, "tests", "tools", "fake-camera")
STAMPS = os.path.join(BUILD, "tests", "tools", "fmp4-stamps")

SEED = int(os.environ.get("HEARTH_TORTURE_SEED") or random.SystemRandom().randrange(2**31))
SECONDS = float(os.environ.get("HEARTH_TORTURE_SECONDS") or 60)
GRACE_US = 1_000_000  # invariant 4: a change bites within 1 s
HOUSEHOLDS = ["North", "South", "East"]
CAMERAS_PER_HOUSEHOLD = 2
DISPLAYS_PER_HOUSEHOLD = int(os.environ.get("HEARTH_TORTURE_DISPLAYS") or 3)
FPS = int(os.environ.get("HEARTH_TORTURE_FPS") or 15)
MIN_FRAMES_PER_HOUSEHOLD = 100
# Each camera's picture: a videotestsrc pattern and the colour it averages to.
PATTERNS = [("red", "red"), ("green", "green"), ("blue", "blue"), ("white", "white"),
            ("black", "black"), ("checkers-8", "olive")]

# The replacement device's picture: no camera of the run shows it.
IMPOSTOR_PATTERN = ("gamut", "pink")
# A keyframe damaged in transit (corrupted or cut short) decodes to a
# picture of no camera's colour; a snapshot of it is counted apart, not as a
# violation, when the camera asked for had such a fault this recently.
DAMAGE_WINDOW_US = 20_000_000
# Replacements and swaps each, per run: each one darkens cameras for seconds.
MAX_IDENTITY_FAULTS = 4

# Clients run without leak checking under AddressSanitizer (the slow unwinder
# makes each TLS handshake take seconds); hearthd keeps it.
CLIENT_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")

rng = random.Random(SEED)
faults = collections.Counter()
handled = collections.Counter()  # replacements quarantined, swaps refused


def now_us():
    return time.time_ns() // 1000


async def run(*argv, env=None, timeout=60, check=True):
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env or CLIENT_ENV)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"timed out: {' '.join(argv)}")
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: "
                           f"{err.decode(errors='replace').strip()}")
    return proc.returncode, out.decode(), err.decode()


async def wait_until(what, predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class Gateway:
    def __init__(self, root):
        self.state = os.path.join(root, "state")
        self.log_path = os.path.join(root, "hearthd.log")
        self.stream_port = free_port()
        self.pairing_port = free_port()
        self.proc = None
        self.crashes = 0
        # Cameras come back within seconds of a fault, so that the run sees
        # many reconnects (each a new generation).
        self.config = os.path.join(root, "hearth.conf")
        with open(self.config, "w") as f:
            f.write("[cameras]\nbackoff-min-ms = 200\nbackoff-max-ms = 2000\n")

    async def start(self):
        log_file = open(self.log_path, "ab")
        # Without fatal criticals: rtspsrc itself logs a GStreamer critical on
        # some reconnects. Any other critical fails the run (criticals()).
        env = {k: v for k, v in os.environ.items() if k != "G_DEBUG"}
        self.proc = await asyncio.create_subprocess_exec(
            HEARTHD, "--config", self.config, "--state-dir", self.state,
            "--listen", f"127.0.0.1:{self.stream_port}",
            "--pairing-listen", f"127.0.0.1:{self.pairing_port}",
            stdout=log_file, stderr=log_file, env=env)
        log_file.close()

        async def answers():
            rc, _, _ = await self.ctl("status", check=False)
            return rc == 0
        await wait_until("hearthd", answers)

    def alive(self):
        return self.proc is not None and self.proc.returncode is None

    async def check_alive(self):
        await asyncio.sleep(0)
        if self.proc is not None and self.proc.returncode is not None:
            self.crashes += 1
            log(f"CRASH: hearthd exited with {self.proc.returncode}")
            await self.start()

    async def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.proc = None

    async def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(self.proc.wait(), 60)
        self.proc = None
        if rc != 0:
            self.crashes += 1
            log(f"CRASH: hearthd exited with {rc} on SIGTERM")

    def criticals(self):
        with open(self.log_path, errors="replace") as f:
            return [line.strip() for line in f
                    if "-CRITICAL **" in line and "GStreamer-CRITICAL" not in line]

    async def ctl(self, *args, check=True):
        return await run(HEARTHCTL, "--state-dir", self.state, *args, check=check)

    async def ctl_json(self, *args):
        _, out, _ = await self.ctl("--json", *args)
        return json.loads(out)


class Proxy:
    """A TCP proxy between the gateway and one camera that injects faults
    into what the camera sends."""

    def __init__(self, target_port):
        self.port = free_port()
        self.target_port = target_port
        self.links = set()
        self.server = None
        self.stall_until = 0.0
        self.delay_until = 0.0
        self.drop_until = 0.0
        self.corrupt_chunks = 0
        self.truncate_next = False

    async def start(self):
        self.server = await asyncio.start_server(self.accept, "127.0.0.1", self.port)

    async def accept(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self.links.add(link)
        try:
            await asyncio.gather(self.pump(reader, up_writer, faulty=False),
                                 self.pump(up_reader, writer, faulty=True))
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            # Cancelled at the end of the run: end quietly.
            pass
        finally:
            self.links.discard(link)
            writer.transport.abort()
            up_writer.transport.abort()

    async def pump(self, reader, writer, faulty):
        while True:
            data = await reader.read(16384)
            if not data:
                writer.transport.abort()
                return
            if faulty:
                while time.monotonic() < self.stall_until:
                    await asyncio.sleep(0.05)
                if time.monotonic() < self.delay_until:
                    await asyncio.sleep(0.2)
                if time.monotonic() < self.drop_until:
                    continue
                if self.corrupt_chunks > 0:
                    self.corrupt_chunks -= 1
                    data = bytearray(data)
                    for _ in range(1 + len(data) // 512):
                        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                    data = bytes(data)
                if self.truncate_next:
                    self.truncate_next = False
                    writer.write(data[: len(data) // 2])
                    await writer.drain()
                    writer.transport.abort()
                    return
            writer.write(data)
            await writer.drain()

    def reset(self):
        for down, up in list(self.links):
            down.transport.abort()
            up.transport.abort()

    async def close(self):
        self.reset()
        self.server.close()


def make_cert(root, name):
    """A self-signed ECDSA certificate and key, as a camera has: (cert, key)."""
    cert, key = (os.path.join(root, f"{name}.{ext}") for ext in ("crt", "key"))
    template = os.path.join(root, f"{name}.tmpl")
    with open(template, "w") as f:
        f.write(f'cn = "Fake camera {name}"\nexpiration_days = 30\n'
                "signing_key\ntls_www_server\n")
    subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--no-text",
                    "--outfile", key], check=True, capture_output=True)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", key,
                    "--template", template, "--outfile", cert], check=True,
                   capture_output=True)
    return cert, key


class Camera:
    def __init__(self, name, root, pattern, tls=None, port=None):
        self.name = name
        self.pattern, self.colour = pattern
        self.root = root
        self.tls = tls  # (cert, key): serves RTSPS
        self.port = port or free_port()
        self.proc = None
        self.stamp = None
        self.gateway_id = None
        self.proxy = Proxy(self.port)
        self.starts = 0
        self.busy = False  # being replaced or swapped
        self.damaged = []  # when faults that can damage a frame in transit hit it

    async def start(self, stamp_owner):
        self.stamp = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        stamp_owner[self.stamp] = self
        ready = os.path.join(self.root, f"{self.name}-{self.starts}.ready")
        self.starts += 1
        log_file = open(os.path.join(self.root, f"camera-{self.name}.log"), "ab")
        self.proc = await asyncio.create_subprocess_exec(
            CAMERA, "--address", "127.0.0.1", "--port", str(self.port),
            "--stamp-id", self.stamp, "--ready-file", ready,
            "--width", "320", "--height", "240", "--fps", str(FPS), "--bitrate", "400",
            "--key-int", str(FPS), "--pattern", self.pattern,
            *(["--tls-cert", self.tls[0], "--tls-key", self.tls[1]] if self.tls else []),
            stdout=log_file, stderr=log_file, env=CLIENT_ENV)
        log_file.close()

        async def is_ready():
            return os.path.exists(ready)
        await wait_until(f"camera {self.name}", is_ready)

    async def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    def url(self):
        scheme = "rtsps" if self.tls else "rtsp"
        return f"{scheme}://127.0.0.1:{self.proxy.port}/stream"


class Display:
    def __init__(self, name, household, root):
        self.name = name
        self.household = household
        self.dir = os.path.join(root, f"display-{name}")
        self.paired_at = None
        self.revoked_at = None
        self.id = None
        self.sessions = []

    def env_args(self):
        return [DISPLAY, "--config-dir", self.dir]


class Session:
    """One `hearth-display check` run: the real client, writing every frame
    it receives to a log this test reads afterwards."""

    count = 0

    def __init__(self, display, camera, root):
        Session.count += 1
        self.display = display
        self.camera = camera
        self.log = os.path.join(root, f"frames-{Session.count}.log")
        self.proc = None

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.display.env_args(), "check", self.camera.gateway_id,
            "--frames", "100000000", "--timeout", "3600", "--frame-log", self.log,
            # Only the frame log counts here; nine decoders would load the machine.
            "--no-decode",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            env=CLIENT_ENV)

    def running(self):
        return self.proc is not None and self.proc.returncode is None

    async def stop(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            await self.proc.wait()


class Timeline:
    """Who owned what, when: camera → household segments, with the time the
    change was asked for (before the gateway could apply it: the strict
    reading)."""

    def __init__(self):
        self.camera_household = collections.defaultdict(list)  # cam → [(t_us, household)]
        self.household_deleted = {}

    def set_camera(self, camera, household, t_us):
        self.camera_household[camera].append((t_us, household))

    def segments(self, camera):
        """[(start, end, household)] with end None for the open segment."""
        entries = self.camera_household[camera]
        out = []
        for i, (t, h) in enumerate(entries):
            end = entries[i + 1][0] if i + 1 < len(entries) else None
            out.append((t, end, h))
        return out


def classify(frame_t, capture_t, display, camera, timeline, asked_t=None):
    """None if the frame was allowed, else the kind of violation. A snapshot
    (@asked_t: when it was asked for, no capture time) is allowed if the
    camera was ours at some instant between the request and the answer."""
    lo = (asked_t if asked_t is not None else frame_t) - GRACE_US
    revoked = display.revoked_at
    deleted = timeline.household_deleted.get(display.household)
    end_of_access = min(x for x in (revoked, deleted, float("inf")) if x is not None)
    ever_ours = False
    for start, end, household in timeline.segments(camera):
        if household != display.household:
            continue
        ever_ours = True
        seg_end = min(end if end is not None else float("inf"), end_of_access)
        # Allowed if the camera was ours (and we were paired) at some instant
        # in [frame_t - 1 s, frame_t], and the frame was captured after the
        # camera joined this household.
        if start <= frame_t and seg_end >= lo:
            if capture_t and capture_t < start:
                return "captured-before-move"
            return None
    return "late-after-change" if ever_ours else "cross-household"


async def raw_reader(gateway, display, camera, mode, seconds, arrivals=None):
    """A display that stops reading (stalled), reads slowly, or reads as fast
    as it can (fast: appends (arrived_us, bytes) of every read to @arrivals),
    over mutual TLS with its own certificate."""
    ctx = ssl.create_default_context(cafile=os.path.join(gateway.state, "ca.crt"))
    ctx.load_cert_chain(os.path.join(display.dir, "display.crt"),
                        os.path.join(display.dir, "display.key"))
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", gateway.stream_port, ssl=ctx, server_hostname="127.0.0.1"), 10)
        writer.write(f"GET /v1/cameras/{camera.gateway_id}/live.mp4 HTTP/1.1\r\n"
                     f"Host: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if mode == "slow":
                if not await reader.read(2048):
                    break
                await asyncio.sleep(0.1)
            elif mode == "fast":
                remaining = deadline - time.monotonic()
                data = await asyncio.wait_for(reader.read(65536), max(remaining, 0.01))
                if not data:
                    break
                if not arrivals and data.startswith(b"HTTP/1.1 403 "):
                    # A certificate refused at the handshake (the display was
                    # revoked before it got there) gets the one fixed "not
                    # paired" answer and the connection closes: not a leak,
                    # but it must be nothing else.
                    data += await asyncio.wait_for(reader.read(-1), max(remaining, 0.01))
                    if b'"not_paired"' in data and len(data) < 2048 and b"mdat" not in data:
                        break
                arrivals.append((now_us(), len(data)))
            else:
                await asyncio.sleep(0.2)
        writer.transport.abort()
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        pass


def colour_of(jpeg):
    """The average colour of a JPEG, by name (ffmpeg scales it to one pixel)."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", "-", "-vf", "scale=1:1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         input=jpeg, capture_output=True, timeout=30).stdout
    if len(out) < 3:
        return "undecodable"
    r, g, b = out[0], out[1], out[2]
    if r > 150 and g > 150 and b > 150:
        return "white"
    if r < 50 and g < 50 and b < 50:
        return "black"
    if r > 120 and g < 90 and b < 90:
        return "red"
    if g > 120 and r < 90 and b < 90:
        return "green"
    if b > 120 and r < 90 and g < 90:
        return "blue"
    if r > 90 and g > 90 and b < 60:
        return "olive"
    if r > 140 and g < 110 and 90 < b < 160:
        return "pink"
    return f"other {r},{g},{b}"


async def get(gateway, display, path):
    """GET @path as @display, one connection per request:
    (asked_us, answered_us, status, body); status None if it failed."""
    asked = now_us()
    try:
        ctx = ssl.create_default_context(cafile=os.path.join(gateway.state, "ca.crt"))
        ctx.load_cert_chain(os.path.join(display.dir, "display.crt"),
                            os.path.join(display.dir, "display.key"))
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", gateway.stream_port, ssl=ctx, server_hostname="127.0.0.1"), 5)
        writer.write(f"GET {path} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(-1), 10)
        writer.transport.abort()
    except (OSError, asyncio.TimeoutError, ssl.SSLError, ValueError):
        return asked, now_us(), None, b""
    head, _, body = response.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = None
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return asked, now_us(), status, body


def dechunk(body):
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return bytes(out)


async def snapshot(gateway, display, camera):
    """GET snapshot.jpg as @display: (asked_us, answered_us, status, body)."""
    return await get(gateway, display, f"/v1/cameras/{camera.gateway_id}/snapshot.jpg")


async def hls_reader(gateway, display, camera, seconds, parts):
    """A display on LL-HLS: polls the playlist, fetches each new part and the
    init segment of its generation, and appends (display, camera, arrived_us,
    init, part) to @parts for the check afterwards."""
    base = f"/v1/cameras/{camera.gateway_id}/hls/"
    seen, inits = set(), {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _, _, status, playlist = await get(gateway, display, base + "index.m3u8")
        if status == 200:
            init_name = None
            for line in playlist.decode(errors="replace").splitlines():
                if line.startswith("#EXT-X-MAP:URI="):
                    init_name = line.split('"')[1]
                elif line.startswith("#EXT-X-PART:") and 'URI="' in line and init_name:
                    name = line.split('URI="')[1].split('"')[0]
                    if name in seen:
                        continue
                    seen.add(name)
                    if init_name not in inits:
                        _, _, s, body = await get(gateway, display, base + init_name)
                        if s != 200:
                            break
                        inits[init_name] = body
                    _, arrived, s, body = await get(gateway, display, base + name)
                    if s == 200:
                        parts.append((display, camera, arrived, inits[init_name], body))
        await asyncio.sleep(0.3)


def part_frames(init, part):
    """(stamp or None, capture_us) of each frame of @part."""
    out = subprocess.run([STAMPS], input=init + part, capture_output=True,
                         timeout=30).stdout.decode()
    frames = []
    for line in out.splitlines():
        if not line.startswith("frame "):
            continue
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        stamp = fields.get("stamp")
        capture = fields.get("capture-us")
        frames.append((None if stamp in (None, "none") else stamp,
                       int(capture) if capture not in (None, "none") else 0))
    return frames


async def pair(gateway, display):
    _, payload, _ = await gateway.ctl("pair", "--household", display.household,
                                      "--print-payload")
    shutil.rmtree(display.dir, ignore_errors=True)
    await run(*display.env_args(), "pair", payload.strip(), "--name", display.name)
    display.paired_at = now_us()
    listing = await gateway.ctl_json("display", "list")
    display.id = [d["id"] for d in listing["displays"] if d["name"] == display.name][-1]


async def main():
    root = tempfile.mkdtemp(prefix="hearth-torture-", dir=os.path.join(BUILD, "tests"))
    log(f"seed {SEED} (HEARTH_TORTURE_SEED={SEED} replays this schedule), "
        f"{SECONDS:.0f} s of faults, work dir {root}")
    gateway = Gateway(root)
    timeline = Timeline()
    stamp_owner = {}
    cameras, displays, sessions, snapshots, hls_parts = [], [], [], [], []
    impostors, identity_failures, identity_tasks = set(), [], set()
    witnesses = []  # (display, [(arrived_us, bytes)]) of displays about to lose access
    background = set()
    ok = False

    try:
        await gateway.start()
        for h in HOUSEHOLDS:
            await gateway.ctl("household", "add", h)
        for i in range(len(HOUSEHOLDS) * CAMERAS_PER_HOUSEHOLD):
            household = HOUSEHOLDS[i // CAMERAS_PER_HOUSEHOLD]
            tls = make_cert(root, f"cam{i}") if i % 2 == 0 else None
            camera = Camera(f"cam{i}", root, PATTERNS[i % len(PATTERNS)], tls)
            await camera.start(stamp_owner)
            await camera.proxy.start()
            t = now_us()
            _, out, _ = await gateway.ctl("camera", "add", "--household", household,
                                          "--name", camera.name, camera.url())
            camera.gateway_id = out.strip()
            timeline.set_camera(camera, household, t)
            cameras.append(camera)
        for i in range(len(HOUSEHOLDS) * DISPLAYS_PER_HOUSEHOLD):
            display = Display(f"disp{i}", HOUSEHOLDS[i // DISPLAYS_PER_HOUSEHOLD], root)
            await pair(gateway, display)
            displays.append(display)

        def household_of(camera):
            return timeline.camera_household[camera][-1][1]

        def live_displays(household=None):
            return [d for d in displays if d.revoked_at is None
                    and d.household not in timeline.household_deleted
                    and (household is None or d.household == household)]

        def live_cameras(household=None):
            return [c for c in cameras if household_of(c) not in timeline.household_deleted
                    and (household is None or household_of(c) == household)]

        async def start_session(display, camera=None):
            camera = camera or rng.choice(live_cameras(display.household) or [None])
            if camera is None:
                return
            s = Session(display, camera, root)
            await s.start()
            sessions.append(s)

        async def camera_states():
            """Camera id → (state, pinned certificate); {} while hearthd is down."""
            rc, out, _ = await gateway.ctl("--json", "camera", "list", check=False)
            if rc != 0:
                return {}
            return {c["id"]: (c["state"], c["evidence"]["certificate"])
                    for c in json.loads(out)["cameras"]}

        async def ctl_until_done(*args):
            """A hearthctl command that must succeed once hearthd answers."""
            deadline = time.monotonic() + 60
            while True:
                rc, _, err = await gateway.ctl(*args, check=False)
                if rc == 0:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"hearthctl {' '.join(args)}: {err.strip()}")
                await asyncio.sleep(0.2)

        async def expect(what, predicate, seconds=30):
            """Waits for @predicate; a timeout is an identity failure."""
            try:
                await wait_until(what, predicate, seconds)
                return True
            except RuntimeError as e:
                identity_failures.append(str(e))
                return False

        async def replace(camera):
            """Another device (its own certificate, stamp and picture) takes
            the camera's address and port for a while; then the camera is
            back and the admin adopts it again."""
            impostor = Camera(f"impostor{faults['replace']}", root, IMPOSTOR_PATTERN,
                              make_cert(root, f"impostor{faults['replace']}"), camera.port)
            impostors.add(impostor)
            await camera.kill()
            await impostor.start(stamp_owner)
            camera.proxy.reset()

            async def quarantined():
                return (await camera_states()).get(camera.gateway_id, ("",))[0] == "quarantined"
            if await expect(f"{camera.name} to be quarantined when {impostor.name} answered "
                            "at its address", quarantined):
                handled["replace"] += 1
            await asyncio.sleep(rng.uniform(1, 4))
            await impostor.kill()
            await camera.start(stamp_owner)
            camera.proxy.reset()
            await ctl_until_done("camera", "adopt", camera.gateway_id)

        async def swap(a, b):
            """Two cameras swap addresses for a while, then swap back."""
            with open(gateway.log_path, "rb") as f:
                log_from = f.seek(0, os.SEEK_END)

            def refused_lines():
                with open(gateway.log_path, errors="replace") as f:
                    f.seek(log_from)
                    return f.read()
            a.proxy.target_port, b.proxy.target_port = b.port, a.port
            a.proxy.reset()
            b.proxy.reset()

            async def both_refused():
                text = refused_lines()
                return all(f"Camera {x.gateway_id} " in text and
                           f"camera {y.gateway_id} (“{y.name}”) answers at its address now"
                           in text for x, y in ((a, b), (b, a)))
            if await expect(f"{a.name} and {b.name} to be refused by each other's "
                            "certificate", both_refused):
                handled["swap"] += 1
            await asyncio.sleep(rng.uniform(1, 4))
            a.proxy.target_port, b.proxy.target_port = a.port, b.port
            a.proxy.reset()
            b.proxy.reset()
            states = await camera_states()
            for c in (a, b):
                if states.get(c.gateway_id, ("",))[0] == "quarantined":
                    identity_failures.append(f"{c.name} was quarantined after a swap")
                    await ctl_until_done("camera", "adopt", c.gateway_id)

        async def identity_fault(kind):
            """Starts a replacement or a swap beside the schedule, on RTSPS
            cameras whose certificate the gateway has pinned."""
            if faults[kind] >= MAX_IDENTITY_FAULTS:
                return
            states = await camera_states()
            pinned = [c for c in live_cameras() if c.tls and not c.busy
                      and states.get(c.gateway_id, ("quarantined", None))[0] != "quarantined"
                      and states.get(c.gateway_id, ("", None))[1] is not None]
            chosen = rng.sample(pinned, 1 if kind == "replace" else 2) \
                if len(pinned) >= (1 if kind == "replace" else 2) else None
            if chosen is None:
                return
            faults[kind] += 1
            for c in chosen:
                c.busy = True

            async def run_fault():
                try:
                    await (replace(*chosen) if kind == "replace" else swap(*chosen))
                finally:
                    for c in chosen:
                        c.busy = False
            task = asyncio.create_task(run_fault())
            identity_tasks.add(task)
            task.add_done_callback(identity_tasks.discard)

        async def fault():
            kind = rng.choice(["reset", "stall", "delay", "drop", "truncate", "corrupt",
                               "camera-restart", "replace", "swap"])
            if kind in ("replace", "swap"):
                await identity_fault(kind)
                return
            camera = rng.choice([c for c in cameras if not c.busy])
            faults[kind] += 1
            if kind not in ("stall", "delay"):
                camera.damaged.append(now_us())
            p = camera.proxy
            if kind == "reset":
                p.reset()
            elif kind == "stall":
                p.stall_until = time.monotonic() + rng.uniform(1, 7)
            elif kind == "delay":
                p.delay_until = time.monotonic() + rng.uniform(1, 4)
            elif kind == "drop":
                p.drop_until = time.monotonic() + rng.uniform(0.2, 2)
            elif kind == "truncate":
                p.truncate_next = True
            elif kind == "corrupt":
                p.corrupt_chunks = rng.randrange(1, 6)
            elif kind == "camera-restart":
                await camera.kill()
                await camera.start(stamp_owner)

        async def display_event():
            kind = rng.choice(["watch", "watch", "watch", "leave", "burst", "stalled",
                               "slow", "hls"])
            candidates = live_displays()
            if not candidates:
                return
            display = rng.choice(candidates)
            faults["display-" + kind] += 1
            if kind == "watch":
                await start_session(display)
            elif kind == "leave":
                mine = [s for s in sessions if s.display is display and s.running()]
                if mine:
                    await rng.choice(mine).stop()
            elif kind == "burst":
                camera = rng.choice(live_cameras(display.household) or [None])
                for _ in range(3):
                    await start_session(display, camera)
            elif kind == "hls":
                camera = rng.choice(live_cameras(display.household) or [None])
                if camera is not None:
                    task = asyncio.create_task(hls_reader(gateway, display, camera,
                                                          rng.uniform(5, 15), hls_parts))
                    background.add(task)
                    task.add_done_callback(background.discard)
            elif kind in ("stalled", "slow"):
                camera = rng.choice(live_cameras(display.household) or [None])
                if camera is not None:
                    task = asyncio.create_task(raw_reader(gateway, display, camera, kind,
                                                          rng.uniform(3, 10)))
                    background.add(task)
                    task.add_done_callback(background.discard)

        async def ownership_event():
            kind = rng.choice(["move", "move", "revoke"])
            faults[kind] += 1
            if kind == "move":
                camera = rng.choice(live_cameras())
                others = [h for h in HOUSEHOLDS
                          if h != household_of(camera) and h not in timeline.household_deleted]
                if not others:
                    return
                target = rng.choice(others)
                t = now_us()
                await gateway.ctl("camera", "move", camera.gateway_id, "--household", target)
                timeline.set_camera(camera, target, t)
            else:
                display = rng.choice(live_displays())
                await witness(display)
                display.revoked_at = now_us()
                await gateway.ctl("display", "revoke", str(display.id))
                # The household gets a new display in its place.
                replacement = Display(f"disp{len(displays)}", display.household, root)
                await pair(gateway, replacement)
                displays.append(replacement)

        async def witness(display):
            """A live.mp4 reader of @display that reads as fast as it can, so
            that every byte the gateway sends it after it loses access is
            counted; returns once it has received some (or after 5 s)."""
            camera = rng.choice(live_cameras(display.household) or [None])
            if camera is None:
                return
            arrivals = []
            witnesses.append((display, arrivals))
            task = asyncio.create_task(raw_reader(gateway, display, camera, "fast", 8,
                                                  arrivals))
            background.add(task)
            task.add_done_callback(background.discard)

            async def receiving():
                return bool(arrivals) or task.done()
            try:
                await wait_until(f"{display.name} to receive {camera.name}", receiving, 5)
            except RuntimeError:
                pass

        async def snapshot_prober():
            # Beside the schedule, with its own generator: mostly a camera of
            # the display's own household; sometimes anyone's, and sometimes
            # as a display that was revoked.
            pick = random.Random(SEED + 1)
            while True:
                await asyncio.sleep(pick.uniform(0.1, 0.4))
                pool = displays if pick.random() < 0.2 else live_displays()
                if not pool:
                    continue
                display = pick.choice(pool)
                own = live_cameras(display.household)
                camera = pick.choice(own if own and pick.random() < 0.7 else cameras)
                result = await snapshot(gateway, display, camera)
                snapshots.append((display, camera) + result)

        async def gateway_kill():
            faults["gateway-sigkill"] += 1
            await gateway.kill()
            await gateway.start()

        for d in displays:
            await start_session(d)

        prober = asyncio.create_task(snapshot_prober())
        background.add(prober)
        deadline = time.monotonic() + SECONDS
        deleted_household = False
        killed_gateway = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            await gateway.check_alive()
            elapsed = 1 - (deadline - time.monotonic()) / SECONDS
            roll = rng.random()
            if not deleted_household and elapsed > 0.7:
                deleted_household = True
                # Not in the middle of a replacement or a swap: their cameras
                # would be gone before they are put back.
                await asyncio.gather(*identity_tasks)
                victim = HOUSEHOLDS[-1]
                faults["household-delete"] += 1
                for d in live_displays(victim)[:2]:
                    await witness(d)
                timeline.household_deleted[victim] = now_us()
                await gateway.ctl("household", "delete", victim)
            elif faults["replace"] == 0 and elapsed > 0.15:
                await identity_fault("replace")  # every run has one of each
            elif faults["swap"] == 0 and elapsed > 0.4:
                await identity_fault("swap")
            elif killed_gateway < 2 and elapsed > 0.3 + 0.3 * killed_gateway and roll < 0.2:
                killed_gateway += 1
                await gateway_kill()
            elif roll < 0.45:
                await fault()
            elif roll < 0.85:
                await display_event()
            else:
                await ownership_event()

        await asyncio.gather(*identity_tasks)
        # Let every household that still exists prove it still streams.
        for d in live_displays():
            await start_session(d)
        await asyncio.sleep(3)
        await gateway.check_alive()
        ok = True
    finally:
        for s in sessions:
            await s.stop()
        for t in list(background):
            t.cancel()
        for t in list(identity_tasks):
            t.cancel()
        for c in cameras + list(impostors):
            if c.proc is not None and c.proc.returncode is None:
                await c.kill()
            if c.proxy.server is not None:
                await c.proxy.close()
        if gateway.alive():
            await gateway.stop()

    # Check every frame every display received, live and over HLS: its
    # stamp must be of the camera asked for, while it was the display's.
    frames = collections.Counter()
    hls_frames = collections.Counter()
    violations = collections.Counter()
    unstamped = 0
    examples = []

    def check_frame(stamp, capture, t, display, camera, counter, via):
        nonlocal unstamped
        if stamp is None:
            unstamped += 1
            return
        owner = stamp_owner.get(stamp)
        if owner is None:
            kind = "unknown-camera"
        elif owner in impostors:
            kind = "impostor"
        elif owner is not camera:
            kind = "wrong-camera"
        else:
            kind = classify(t, capture, display, owner, timeline)
        if kind is None:
            counter[display.household] += 1
            return
        violations[kind] += 1
        if len(examples) < 10:
            examples.append(f"{via}{kind}: display {display.name} ({display.household}) "
                            f"got a frame of {owner.name if owner else stamp} at {t}")

    for s in sessions:
        if not os.path.exists(s.log):
            continue
        with open(s.log) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 4:
                    continue
                t, stamp, _counter, capture = int(parts[0]), parts[1], parts[2], int(parts[3])
                check_frame(None if stamp == "-" else stamp, capture, t, s.display, s.camera,
                            frames, "")
    for display, camera, arrived, init, part in hls_parts:
        for stamp, capture in part_frames(init, part):
            check_frame(stamp, capture, arrived, display, camera, hls_frames, "HLS ")

    # Check every snapshot that was served.
    served = collections.Counter()
    refused = damaged = 0
    known_colours = {c.colour for c in cameras} | {IMPOSTOR_PATTERN[1]}
    for display, camera, asked, answered, status, body in snapshots:
        if status != 200:
            refused += 1
            continue
        colour = colour_of(body)
        if colour not in known_colours and any(
                asked - DAMAGE_WINDOW_US <= t <= answered for t in camera.damaged):
            damaged += 1
            continue
        if colour != camera.colour:
            kind = "snapshot-wrong-camera"
        else:
            kind = classify(answered, None, display, camera, timeline, asked_t=asked)
        if kind is None:
            served[display.household] += 1
        else:
            violations["snapshot-" + kind if not kind.startswith("snapshot") else kind] += 1
            if len(examples) < 10:
                examples.append(f"{kind}: display {display.name} ({display.household}) "
                                f"got a {colour} snapshot for {camera.name} "
                                f"({camera.colour}) at {answered}")

    print()
    print(f"seed: {SEED}")
    for h in HOUSEHOLDS:
        print(f"frames checked, household {h}: {frames[h]}")
    print("faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())))
    print(f"display sessions: {len(sessions)}")
    print("HLS frames checked (violations counted with the live ones): " +
          ", ".join(f"{h} {hls_frames[h]}" for h in HOUSEHOLDS) +
          f"; parts {len(hls_parts)}")
    print(f"unstamped frames (corruption): {unstamped}")
    print(f"cross-household frames: {violations['cross-household'] + violations['unknown-camera']}")
    print(f"frames of another camera than asked: {violations['wrong-camera']}")
    print(f"frames of a device that took a camera's address: {violations['impostor']}")
    print(f"frames after revocation or move past 1 s: {violations['late-after-change']}")
    late_bytes = 0
    for display, arrivals in witnesses:
        deleted = timeline.household_deleted.get(display.household)
        cut = min(t for t in (display.revoked_at, deleted, float("inf")) if t is not None)
        late_bytes += sum(n for t, n in arrivals if t > cut + GRACE_US)
    witnessed = sum(1 for _, arrivals in witnesses if arrivals)
    print(f"bytes after revocation or household deletion past 1 s: {late_bytes} "
          f"(live.mp4 readers of {witnessed} displays losing access, reading at full speed)")
    print(f"frames captured before the camera joined the household: "
          f"{violations['captured-before-move']}")
    print("snapshots served and checked: " +
          ", ".join(f"{h} {served[h]}" for h in HOUSEHOLDS) +
          f"; refused {refused}; of a keyframe damaged in transit {damaged}")
    print(f"snapshots of another household's camera: "
          f"{violations['snapshot-cross-household']}")
    print(f"snapshots of another camera than asked: {violations['snapshot-wrong-camera']}")
    print(f"snapshots after revocation or move past 1 s: "
          f"{violations['snapshot-late-after-change']}")
    criticals = gateway.criticals()
    print(f"replacements quarantined: {handled['replace']} of {faults['replace']}; "
          f"swaps refused on both sides: {handled['swap']} of {faults['swap']}")
    print(f"identity failures: {len(identity_failures)}")
    for e in identity_failures[:5]:
        print("  " + e)
    print(f"crashes: {gateway.crashes}")
    print(f"criticals logged by the gateway (GStreamer's own excepted): {len(criticals)}")
    for e in examples:
        print("  " + e)
    cross = (violations['cross-household'] + violations['unknown-camera'] +
             violations['snapshot-cross-household'])
    summary = {
        "seed": SEED, "seconds": SECONDS, "fps": FPS,
        "displays_per_household": DISPLAYS_PER_HOUSEHOLD,
        "frames": sum(frames.values()) + sum(hls_frames.values()),
        "live_frames": sum(frames.values()), "hls_frames": sum(hls_frames.values()),
        "hls_parts": len(hls_parts), "snapshots": sum(served.values()),
        "snapshots_refused": refused, "display_sessions": len(sessions),
        "faults": dict(faults), "cross_household": cross,
        "violations": sum(violations.values()), "late_bytes": late_bytes,
        "crashes": gateway.crashes,
    }
    print(f"checked: {summary['frames']} frames ({summary['live_frames']} live, "
          f"{summary['hls_frames']} over HLS), {summary['hls_parts']} HLS parts, "
          f"{summary['snapshots']} snapshots; cross-household: {cross}")

    failed = []
    if not ok:
        failed.append("the run did not finish")
    if sum(violations.values()) or late_bytes:
        failed.append("isolation violations")
    if identity_failures:
        failed.append("identity faults not handled")
    for kind in ("replace", "swap"):
        if not faults[kind]:
            failed.append(f"no {kind} fault was injected")
    if gateway.crashes:
        failed.append("gateway crashes")
    if criticals:
        failed.append("gateway criticals: " + "; ".join(criticals[:3]))
    for h in HOUSEHOLDS[:-1]:
        if frames[h] < MIN_FRAMES_PER_HOUSEHOLD:
            failed.append(f"household {h} received only {frames[h]} frames")
    summary["failed"] = failed
    if os.environ.get("HEARTH_TORTURE_SUMMARY"):
        with open(os.environ["HEARTH_TORTURE_SUMMARY"], "w") as f:
            json.dump(summary, f)
    if failed:
        print("FAILED: " + "; ".join(failed) + f" (gateway log: {gateway.log_path})")
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
