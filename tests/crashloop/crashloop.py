#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash loops: hearthd killed with SIGKILL at random moments of real work.

Each round drives one operation through the real clients against the real
hearthd, and sends SIGKILL to hearthd while it runs:

- pair: `hearth-display pair` with the payload of `hearthctl pair`;
- move: `hearthctl camera move` of a camera to the other household;
- delete: `hearthctl household delete` of a household with two cameras, a
  paired display and an open pairing window;
- migrate: a hearthd started on an old store (tests/fixtures: schema-0001 as
  the oldest release left it, or paired-0.1.0 with its keys), killed while it
  migrates the store and, on that first start, makes its keys and root CA;
  a quarter of the migration kills wait for one of the state files a first
  start writes (gateway.key, ca.key.new, ca.crt, ca.key, gateway.crt) to
  appear instead of a delay, and one in eight comes before the migration;
- backup: `hearthctl backup FILE`; every backup file it leaves is checked
  with `hearthctl restore` into a fresh directory;
- restore: `hearthd --restore FILE` into a new directory, itself killed
  (not the running hearthd); then, at random, either the restore is run
  again (it must redo it, or refuse a directory the killed one completed)
  or hearthd is started on the directory: either way the directory then
  holds all of the backup (same rows, the gateway's keys) or, after a start,
  none of it (a new, empty gateway), and no staging of the restore.

The rounds go through the six in a shuffled order, one of each per six.
When the kill lands is drawn uniformly over the span where hearthd works on
the operation, with a margin of 15% on each side: from about when the client
reaches hearthd (how long the client takes to fail with no daemon) to when it
gets its answer (the median of the uninterrupted runs), both estimates kept
up to date by the rounds' own outcomes; for a migration, from hearthd's
"Migrating" message to its admin socket. A kill counts as
- before: the client could not reach hearthd (hearthctl exits 69,
  hearth-display finds every address refused; migrate: hearthd had not yet
  logged that it migrates);
- after: the client got its answer (migrate: the admin socket was there);
- during: otherwise, i.e. the request was in hearthd's hands.

After every kill, with hearthd down: PRAGMA integrity_check and
foreign_key_check of the store are clean (read through a read-only URI; a
store whose write-ahead log must be recovered first cannot be, and then a
copy of the file and its log is read, as hearthd will recover it), the state
directory is 0700 and its files 0600, and nothing half-done is visible:
- move: the camera is in exactly the old or the new household, with the two
  "camera-move" audit rows exactly when it moved (and moved if answered);
- delete: the household is wholly there (same cameras, displays, pairing
  windows) or wholly gone (no row of any table names it, its
  "household-delete" audit row written) — gone if answered;
- pair: what pairing.c guarantees is one store transaction (token spent,
  display row, certificate, audit row) committed before the answer is sent.
  So the gateway lists the display exactly when its "pairing" audit row is
  there, and a display that holds a certificate is listed with that
  certificate's fingerprint and can fetch /v1/cameras after the restart.
  The converse cannot hold: a kill after the commit and before the answer
  reaches the display leaves a listed display whose holder never received
  its certificate (its token is spent; the admin revokes it and pairs
  again). Those are counted and reported as "orphans", not failures, as
  long as the display's error says to look for it in the gateway's list;
- migrate: the schema is the old one with the fixture's rows, or the newest
  with the same households, cameras and displays;
- backup: the file is absent, or a complete backup that `hearthctl restore`
  accepts, whose store has the same rows and whose keys are the gateway's;
  no temporary file is left beside it.
Then hearthd must answer `hearthctl status` within a deadline, list what the
file holds, and leave no file in its state directory but its own (a
temporary backup or key file of the killed run must be gone). Counts of
households, cameras and displays must be what the operation allows.

It prints a summary and exits non-zero on any inconsistency, any failed
restart, when fewer than a quarter of all kills were "during", or when an
operation killed 20 times or more was never killed "during" it.
HEARTH_CRASHLOOP_SEED replays a run's choices (the seed is printed):
operations, delays and triggers; where a delay lands in the work still
depends on the machine's speed.
HEARTH_CRASHLOOP_ROUNDS sets the number of kills (default: the argument, else
200; the suite's short form passes 30).
"""

import collections
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from hearthtest import free_port, log  # noqa: E402

BUILD = os.environ["HEARTH_BUILD_DIR"]
SOURCE = os.environ.get("HEARTH_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
HEARTHD = os.path.join(BUILD, "gateway", "hearthd")
HEARTHCTL = os.path.join(BUILD, "gateway", "hearthctl")
DISPLAY = os.path.join(BUILD, "display", "hearth-display")
FIXTURE_0001 = (os.environ.get("HEARTH_STORE_FIXTURE_0001")
                or os.path.join(BUILD, "tests", "fixture-schema-0001.db"))
FIXTURE_PAIRED = (os.environ.get("HEARTH_PAIRED_FIXTURE")
                  or os.path.join(SOURCE, "tests", "fixtures", "paired-0.1.0"))

SEED = int(os.environ.get("HEARTH_CRASHLOOP_SEED") or random.SystemRandom().randrange(2**31))
# The suite passes its short form's number as the argument.
ROUNDS = int(os.environ.get("HEARTH_CRASHLOOP_ROUNDS") or (sys.argv[1:] or [200])[0])
SANITIZED = os.environ.get("HEARTH_SANITIZE", "none") not in ("", "none")
START_DEADLINE = 90 if SANITIZED else 30
OPS = ["pair", "move", "delete", "migrate", "backup", "restore"]
# What hearthd keeps in its state directory; anything else is left over.
STATE_FILES = {"hearth.db", "hearth.db-wal", "hearth.db-shm", "gateway.key", "gateway.crt",
               "ca.key", "ca.crt", "hearthd.sock"}
# A first start writes these in turn (the CA's key as ca.key.new until its
# certificate is written).
FIRST_START_FILES = ["gateway.key", "ca.key.new", "ca.crt", "ca.key", "gateway.crt"]
# Clients without leak checking under AddressSanitizer (as the e2e tests).
CLIENT_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
DAEMON_ENV = {k: v for k, v in os.environ.items() if k != "G_DEBUG"}

rng = random.Random(SEED)


class Inconsistent(Exception):
    pass


def run(*argv, check=True, timeout=120):
    p = subprocess.run(argv, capture_output=True, text=True, env=CLIENT_ENV, timeout=timeout)
    if check and p.returncode != 0:
        raise Inconsistent(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def ctl(state, *args, check=True):
    return run(HEARTHCTL, "--state-dir", state, *args, check=check)


def ctl_json(state, *args):
    return json.loads(ctl(state, "--json", *args).stdout)


def sleep_until(t):
    """Sleeps until monotonic time @t, the last millisecond spinning."""
    while True:
        left = t - time.monotonic()
        if left <= 0:
            return
        if left > 0.002:
            time.sleep(left - 0.001)


def wait_until(what, predicate, seconds, poll=0.01):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise Inconsistent(f"timed out after {seconds}s waiting for {what}")
        time.sleep(poll)


def fingerprint(pem_path):
    with open(pem_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


class Gateway:
    """One hearthd with its state directory, on fixed ports so that paired
    displays find it again after a restart."""

    def __init__(self, root, name, fixed_ports=True):
        self.name = name
        self.state = os.path.join(root, name)
        self.log_path = os.path.join(root, f"{name}.log")
        self.stream_port = free_port() if fixed_ports else 0
        self.pairing_port = free_port() if fixed_ports else 0
        self.proc = None
        self.log_offset = 0

    def spawn(self):
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                [HEARTHD, "--state-dir", self.state,
                 "--listen", f"127.0.0.1:{self.stream_port}",
                 "--pairing-listen", f"127.0.0.1:{self.pairing_port}"],
                stdout=log_file, stderr=log_file, env=DAEMON_ENV)

    def answers(self):
        if self.proc.poll() is not None:
            raise Inconsistent(f"hearthd ({self.name}) exited {self.proc.returncode} "
                               f"while starting: {self.log_tail()}")
        return ctl(self.state, "status", check=False).returncode == 0

    def start(self):
        """Starts hearthd and waits for its admin socket; returns seconds."""
        t0 = time.monotonic()
        self.spawn()
        wait_until(f"hearthd ({self.name}) to answer", self.answers, START_DEADLINE)
        return time.monotonic() - t0

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=120)
        self.proc = None
        if rc != 0:
            raise Inconsistent(f"hearthd ({self.name}) exited {rc} on SIGTERM: {self.log_tail()}")

    def log_since_start(self):
        with open(self.log_path, errors="replace") as f:
            f.seek(self.log_offset)
            return f.read()

    def log_tail(self):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-15:])

    def criticals(self):
        with open(self.log_path, errors="replace") as f:
            return [line.strip() for line in f
                    if "-CRITICAL **" in line and "GStreamer-CRITICAL" not in line]


READ_COPIES = collections.Counter()


def snapshot(state):
    """The store's rows, read through a read-only URI, after its integrity
    and foreign key checks. A store whose write-ahead log must be recovered
    first (as a kill can leave it) cannot be read read-only: then a copy of
    the file and its log is read, recovered as hearthd will recover it."""
    db = os.path.join(state, "hearth.db")
    try:
        return read_store(sqlite3.connect(f"file:{db}?mode=ro", uri=True), db)
    except sqlite3.OperationalError as e:
        if "readonly" not in str(e):
            raise Inconsistent(f"reading {db}: {e}")
    READ_COPIES["recovered copies"] += 1
    with tempfile.TemporaryDirectory() as scratch:
        for suffix in ("", "-wal"):
            if os.path.exists(db + suffix):
                shutil.copy(db + suffix, os.path.join(scratch, "hearth.db" + suffix))
        try:
            return read_store(sqlite3.connect(os.path.join(scratch, "hearth.db")), db)
        except sqlite3.Error as e:
            raise Inconsistent(f"reading a copy of {db}: {e}")


def read_store(con, db):
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchall()
        if integrity != [("ok",)]:
            raise Inconsistent(f"integrity_check of {db}: {integrity}")
        fk = con.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            raise Inconsistent(f"foreign_key_check of {db}: {fk}")
        s = {"version": con.execute("PRAGMA user_version").fetchone()[0]}
        s["households"] = dict(con.execute("SELECT id, name FROM households"))
        s["cameras"] = dict(con.execute("SELECT id, household_id FROM cameras"))
        s["displays"] = {r[0]: (r[1], r[2], r[3]) for r in con.execute(
            "SELECT id, household_id, name, fingerprint FROM displays")}
        s["windows"] = dict(con.execute("SELECT id, household_id FROM pairing_windows"))
        s["audit"] = con.execute("SELECT kind, household_id, detail FROM audit").fetchall()
    finally:
        con.close()
    return s


def counts(s):
    return (len(s["households"]), len(s["cameras"]), len(s["displays"]))


def audit_rows(s, kind, household=None, detail_prefix=None):
    return [a for a in s["audit"] if a[0] == kind
            and (household is None or a[1] == household)
            and (detail_prefix is None or a[2].startswith(detail_prefix))]


def check_files(state, allow_leftovers):
    """Modes in the state directory; returns the files hearthd does not keep."""
    mode = os.stat(state).st_mode & 0o777
    if mode != 0o700:
        raise Inconsistent(f"{state} is {mode:o}, not 700")
    leftovers = []
    for name in os.listdir(state):
        st = os.lstat(os.path.join(state, name))
        if not os.path.isfile(os.path.join(state, name)):
            continue
        if st.st_mode & 0o777 != 0o600:
            raise Inconsistent(f"{name} in the state directory is {st.st_mode & 0o777:o}, not 600")
        if name not in STATE_FILES:
            leftovers.append(name)
    if leftovers and not allow_leftovers:
        raise Inconsistent(f"left in the state directory after a restart: {sorted(leftovers)}")
    return leftovers


def leftover_kind(name):
    """A left-over file's name with its random part as "*"."""
    return re.sub(r"(?<=[-.])[A-Za-z0-9]{6}(?=\.tmp|$)", "*", name)


def check_online(state, s):
    """hearthd, restarted, lists what the file holds."""
    status = ctl_json(state, "status")
    if (status["households"], status["cameras"], status["displays"]) != counts(s):
        raise Inconsistent(f"status after restart: {status['households']}/{status['cameras']}/"
                           f"{status['displays']}, the store holds {counts(s)}")
    households = {h["id"]: h["name"] for h in ctl_json(state, "household", "list")["households"]}
    if households != s["households"]:
        raise Inconsistent(f"households listed {households}, stored {s['households']}")
    cameras = {c["id"] for c in ctl_json(state, "camera", "list")["cameras"]}
    if cameras != set(s["cameras"]):
        raise Inconsistent(f"cameras listed {sorted(cameras)}, stored {sorted(s['cameras'])}")
    displays = {d["id"] for d in ctl_json(state, "display", "list")["displays"]}
    if displays != set(s["displays"]):
        raise Inconsistent(f"displays listed {sorted(displays)}, stored {sorted(s['displays'])}")


class Timing:
    """Where an operation's kills go: from about when the client reaches
    hearthd (lo) to when it has its answer (hi), with margins."""

    def __init__(self, lo, hi):
        self.lo = lo
        self.hi = max(hi, lo + 0.0005)
        self.answers = collections.deque([hi], maxlen=7)

    def draw(self):
        span = self.hi - self.lo
        return max(0.0, rng.uniform(self.lo - 0.15 * span, self.hi + 0.15 * span))

    def learn(self, delay, outcome, answered_at=None):
        # Each outcome moves the edge it contradicts a third of the way.
        if outcome == "before" and delay > self.lo:
            self.lo += (delay - self.lo) / 3
        elif outcome == "during" and delay < self.lo:
            self.lo -= (self.lo - delay) / 3
        elif outcome == "during" and delay > self.hi:
            self.hi += (delay - self.hi) / 3
        elif outcome == "after" and delay < self.hi and answered_at is None:
            self.hi -= (self.hi - delay) / 3
        if answered_at is not None:
            self.answers.append(answered_at)
            self.hi = statistics.median(self.answers)
        self.hi = max(self.hi, self.lo + 0.0005)


def client_unreachable(rc, err):
    """Whether the client failed because nothing listened: hearthctl exits 69;
    hearth-display says why it could not reach each address it tried."""
    if rc == 69 and "cannot reach hearthd" in err:
        return True
    m = re.search(r"could not reach the gateway: (.*)", err)
    if m is None:
        return False
    reasons = [r.split(": ", 1)[-1] for r in m.group(1).split("; ")]
    return all(r.startswith("connection refused") for r in reasons)


def kill_during(gw, argv, delay):
    """Runs the client @argv and kills hearthd @delay seconds after it
    started; returns (returncode, stdout, stderr, seconds the client took
    if it finished before the kill)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=CLIENT_ENV)
    t0 = time.monotonic()
    finished = None
    end = t0 + delay
    while time.monotonic() < end:
        if finished is None and p.poll() is not None:
            finished = time.monotonic() - t0
        sleep_until(min(end, time.monotonic() + 0.0005))
    gw.kill()
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err, finished


class CrashLoop:
    def __init__(self, root):
        self.root = root
        self.gw = Gateway(root, "state")
        self.seq = 0
        self.kills = {op: collections.Counter() for op in OPS}
        self.outcomes = collections.Counter()
        self.orphans = []
        self.leftovers = collections.Counter()
        self.restart_max = 0.0
        self.timing = {}
        self.round = 0
        self.others = []  # the migrations' gateways

    def fresh(self, what):
        self.seq += 1
        return os.path.join(self.root, f"{what}-{self.seq}")

    # --- set-up ------------------------------------------------------------------

    def add_camera(self, household, name):
        # An address where nothing answers: the camera is stored, never dialled
        # successfully.
        return ctl(self.gw.state, "camera", "add", "--household", household, "--name", name,
                   f"rtsp://127.0.0.1:1/{name}").stdout.strip()

    def open_window(self, household):
        return ctl(self.gw.state, "pair", "--household", household, "--print-payload").stdout.strip()

    def pair_argv(self, household, name):
        payload = self.open_window(household)
        config = self.fresh("display")
        return config, [DISPLAY, "--config-dir", config, "pair", payload, "--name", name]

    def pair(self, household, name):
        config, argv = self.pair_argv(household, name)
        run(*argv)
        return config

    def setup(self):
        self.gw.start()
        for h in ("North", "South"):
            ctl(self.gw.state, "household", "add", h)
        self.cameras = [self.add_camera(h, f"{h}-{i}") for h in ("North", "South") for i in range(3)]
        self.pair("North", "north-tv")

    def calibrate(self):
        """Times each operation uninterrupted, and how long each client
        takes to find no daemon."""
        dead = self.fresh("dead")
        os.makedirs(dead, mode=0o700)
        reach_ctl = statistics.median(self.timed(HEARTHCTL, "--state-dir", dead, "status")
                                      for _ in range(5))
        payload = (f"https://127.0.0.1:{free_port()}/pair?v=1&fp={'0' * 64}"
                   f"&s=127.0.0.1:{free_port()}&t={'0' * 32}&n=dead")
        reach_display = statistics.median(
            self.timed(DISPLAY, "--config-dir", self.fresh("display"), "pair", payload,
                       "--name", "x") for _ in range(3))
        # The display makes its key before it connects; what it does after a
        # refusal (the stream port, mDNS) is not before its request.
        reach_display *= 0.7
        pair, move, delete, backup = [], [], [], []
        for i in range(3):
            config, argv = self.pair_argv("South", f"calib-{i}")
            pair.append(self.timed(*argv))
            if fingerprint(os.path.join(config, "display.crt")) not in {
                    d["fingerprint"] for d in ctl_json(self.gw.state, "display", "list")["displays"]}:
                raise Inconsistent("the fingerprint of a paired display is not the gateway's")
            move.append(self.timed(HEARTHCTL, "--state-dir", self.gw.state, "camera", "move",
                                   self.cameras[0], "--household", ("South", "North")[i % 2]))
            backup.append(self.timed(HEARTHCTL, "--state-dir", self.gw.state, "backup",
                                     self.fresh("backup")))
            self.delete_setup()
            delete.append(self.timed(*self.delete_argv))
        # A restore (hearthd --restore) of one backup, into a new directory.
        self.restore_backup = self.fresh("restore-source")
        run(HEARTHCTL, "--state-dir", self.gw.state, "backup", self.restore_backup)
        self.restore_source = snapshot(self.gw.state)
        staged, restored = [], []
        for _ in range(3):
            t_staged, t_done = self.restore_killed_at(self.fresh("restored"), None)
            staged.append(t_staged)
            restored.append(t_done)
        # Kills are timed from when the restore starts to stage.
        self.restore_staged = statistics.median(staged)
        self.timing = {
            "restore": Timing(0.0, statistics.median(restored) - self.restore_staged),
            "pair": Timing(reach_display, statistics.median(pair)),
            "move": Timing(reach_ctl, statistics.median(move)),
            "delete": Timing(reach_ctl, statistics.median(delete)),
            "backup": Timing(reach_ctl, statistics.median(backup)),
        }
        t_mig, t_ready = [], []
        for i in range(2):
            gw, _ = self.migration_gateway(i % 2 == 0)
            t0 = time.monotonic()
            gw.spawn()
            sock = os.path.join(gw.state, "hearthd.sock")
            wait_until("migration", lambda: "Migrating" in gw.log_since_start(), START_DEADLINE,
                       poll=0.0005)
            t_mig.append(time.monotonic() - t0)
            wait_until("admin socket", lambda: os.path.exists(sock), START_DEADLINE, poll=0.0005)
            t_ready.append(time.monotonic() - t0)
            wait_until("hearthd to answer", gw.answers, START_DEADLINE)
            gw.stop()
        # Kills at random are timed from the "Migrating" message to the admin
        # socket; a few are timed from the start, before it.
        self.migrate_starts = statistics.median(t_mig)
        self.timing["migrate"] = Timing(0.0, statistics.median(t_ready) - self.migrate_starts)
        for op, t in self.timing.items():
            log(f"calibrated {op}: kills from {t.lo * 1000:.1f} to {t.hi * 1000:.1f} ms")

    @staticmethod
    def timed(*argv):
        t0 = time.monotonic()
        subprocess.run(argv, capture_output=True, env=CLIENT_ENV, timeout=120)
        return time.monotonic() - t0

    # --- the operations --------------------------------------------------------------

    def delete_setup(self):
        name = f"Gone-{self.seq}"
        ctl(self.gw.state, "household", "add", name)
        self.add_camera(name, f"cam-a-{self.seq}")
        self.add_camera(name, f"cam-b-{self.seq}")
        self.delete_display = self.pair(name, f"tv-{self.seq}")
        self.open_window(name)
        self.delete_name = name
        self.delete_argv = [HEARTHCTL, "--state-dir", self.gw.state, "household", "delete", name]

    def classify(self, op, rc, err, delay, finished):
        if rc == 0:
            outcome = "after"
        elif client_unreachable(rc, err):
            outcome = "before"
        else:
            outcome = "during"
        self.timing[op].learn(delay, outcome, finished)
        return outcome

    def round_pair(self):
        household = rng.choice(["North", "South"])
        name = f"pair-{self.seq}"
        config, argv = self.pair_argv(household, name)
        before = snapshot(self.gw.state)
        delay = self.timing["pair"].draw()
        rc, _, err, finished = kill_during(self.gw, argv, delay)
        outcome = self.classify("pair", rc, err, delay, finished)
        after = self.offline(before)
        listed = [i for i, d in after["displays"].items() if d[1] == name]
        audited = audit_rows(after, "pairing", detail_prefix=None)
        audited = [a for a in audited if f"“{name}”" in a[2]]
        cert = os.path.join(config, "display.crt")
        holds = os.path.exists(cert)
        if len(listed) > 1 or len(audited) != len(listed):
            raise Inconsistent(f"pairing {name}: listed {listed}, audit rows {audited}")
        if counts(after) not in (counts(before), tuple(a + b for a, b in zip(counts(before), (0, 0, 1)))):
            raise Inconsistent(f"pairing changed the counts {counts(before)} → {counts(after)}")
        if outcome == "after" and not (holds and listed):
            raise Inconsistent(f"pairing {name} answered, but listed {listed}, certificate {holds}")
        if holds:
            if not listed or after["displays"][listed[0]][2] != fingerprint(cert):
                raise Inconsistent(f"display {name} holds a certificate the gateway does not list")
            result = "whole"
        elif listed:
            result = "orphan"
            self.orphans.append((self.round, round(delay * 1000, 1)))
            # The display cannot know, but must say what to look for.
            if "hearthctl display list" not in err:
                raise Inconsistent(f"pairing {name} left a listed display and the display "
                                   f"did not say where to look: {err.strip()}")
        else:
            result = "none"
        self.outcomes[f"pair:{result}"] += 1
        self.restart(after)
        if holds:
            run(DISPLAY, "--config-dir", config, "list")
        return outcome

    def round_move(self):
        camera = rng.choice(self.cameras)
        before = snapshot(self.gw.state)
        old = before["cameras"][camera]
        names = {v: k for k, v in before["households"].items()}
        new = names["South"] if old == names["North"] else names["North"]
        argv = [HEARTHCTL, "--state-dir", self.gw.state, "camera", "move", camera,
                "--household", before["households"][new]]
        delay = self.timing["move"].draw()
        rc, _, err, finished = kill_during(self.gw, argv, delay)
        outcome = self.classify("move", rc, err, delay, finished)
        after = self.offline(before)
        where = after["cameras"].get(camera)
        audit = len(audit_rows(after, "camera-move", detail_prefix=f"camera {camera} ")) - \
            len(audit_rows(before, "camera-move", detail_prefix=f"camera {camera} "))
        if where not in (old, new):
            raise Inconsistent(f"camera {camera} is in household {where}, not {old} or {new}")
        if (where == new) != (audit == 2) or audit not in (0, 2):
            raise Inconsistent(f"camera {camera} in {where}, {audit} new camera-move audit rows")
        if outcome == "after" and where != new:
            raise Inconsistent(f"camera {camera} move answered, but it is still in {old}")
        if counts(after) != counts(before):
            raise Inconsistent(f"a move changed the counts {counts(before)} → {counts(after)}")
        self.outcomes["move:" + ("moved" if where == new else "stayed")] += 1
        self.restart(after)
        return outcome

    def round_delete(self):
        self.delete_setup()
        before = snapshot(self.gw.state)
        hid = [i for i, n in before["households"].items() if n == self.delete_name][0]
        mine = {t: {k for k, v in before[t].items() if (v[0] if t == "displays" else v) == hid}
                for t in ("cameras", "displays", "windows")}
        delay = self.timing["delete"].draw()
        rc, _, err, finished = kill_during(self.gw, self.delete_argv, delay)
        outcome = self.classify("delete", rc, err, delay, finished)
        after = self.offline(before)
        now = {t: {k for k, v in after[t].items() if (v[0] if t == "displays" else v) == hid}
               for t in ("cameras", "displays", "windows")}
        gone_rows = {t: mine[t] & set(after[t]) for t in mine}
        audit = audit_rows(after, "household-delete", household=hid)
        if hid in after["households"]:
            if now != mine or audit:
                raise Inconsistent(f"household {hid} is there, with {now} instead of {mine}, "
                                   f"delete audit rows {audit}")
            if outcome == "after":
                raise Inconsistent(f"household {hid} delete answered, but it is there")
            expected = counts(before)
            result = "there"
        else:
            if any(now.values()) or any(gone_rows.values()) or len(audit) != 1:
                raise Inconsistent(f"household {hid} is gone, but {now} {gone_rows} still name it "
                                   f"(delete audit rows {audit})")
            expected = tuple(a - b for a, b in zip(counts(before),
                                                  (1, len(mine["cameras"]), len(mine["displays"]))))
            result = "gone"
        if counts(after) != expected:
            raise Inconsistent(f"delete: counts {counts(before)} → {counts(after)}, want {expected}")
        self.outcomes[f"delete:{result}"] += 1
        self.restart(after)
        # The household's display works exactly while the household is there.
        listed = run(DISPLAY, "--config-dir", self.delete_display, "list", check=False)
        if (listed.returncode == 0) != (result == "there"):
            raise Inconsistent(f"the display of household {hid} ({result}) lists cameras: "
                               f"{listed.returncode} {listed.stderr.strip()}")
        return outcome

    def round_backup(self):
        path = self.fresh("backup")
        before = snapshot(self.gw.state)
        argv = [HEARTHCTL, "--state-dir", self.gw.state, "backup", path]
        delay = self.timing["backup"].draw()
        rc, _, err, finished = kill_during(self.gw, argv, delay)
        outcome = self.classify("backup", rc, err, delay, finished)
        after = self.offline(before)
        if counts(after) != counts(before):
            raise Inconsistent(f"a backup changed the counts {counts(before)} → {counts(after)}")
        beside = [n for n in os.listdir(self.root) if n.startswith(os.path.basename(path) + ".")]
        if beside:
            raise Inconsistent(f"backup left {beside} beside {path}")
        if os.path.exists(path):
            self.check_backup(path, after)
            self.outcomes["backup:complete"] += 1
        elif outcome == "after":
            raise Inconsistent(f"backup answered, but {path} is not there")
        else:
            self.outcomes["backup:absent"] += 1
        self.restart(after)
        return outcome

    def round_restore(self):
        """hearthd --restore killed at random: running it again, or starting
        hearthd, finds all of the backup or none of it, never a part."""
        target = self.fresh("restoring")
        # One kill in eight at any moment before the restore stages anything.
        early = rng.random() < 0.125
        delay = (rng.uniform(0, self.restore_staged) if early
                 else self.timing["restore"].draw())
        rc, finished = self.restore_killed_at(target, delay, from_start=early)
        if rc == 0:
            outcome = "after"
        elif not os.path.isdir(target) or not os.listdir(target):
            outcome = "before"
        else:
            outcome = "during"
        if not early:
            self.timing["restore"].learn(delay, outcome, finished)
        if outcome == "after" and os.path.isdir(os.path.join(target, ".hearth-restore")):
            raise Inconsistent(f"a finished restore left its staging in {target}")
        if rng.random() < 0.5:
            # Run again: it finishes or redoes the restore, or it refuses a
            # directory that the interrupted one completed.
            again = run(HEARTHD, "--state-dir", target, "--restore", self.restore_backup,
                        check=False)
            if again.returncode != 0 and "not empty" not in again.stderr:
                raise Inconsistent(f"restore again after a kill: {again.stderr.strip()}")
            self.check_restored(target, "restore:again")
        else:
            name = os.path.basename(target)
            gw = Gateway(self.root, name, fixed_ports=False)
            self.restart_gateway(gw)
            gw.stop()
            check_files(target, allow_leftovers=False)
            if counts(snapshot(target)) == (0, 0, 0):
                self.outcomes["restore:started-empty"] += 1
            else:
                self.check_restored(target, "restore:started")
        shutil.rmtree(target)
        return outcome

    def restore_killed_at(self, target, delay, from_start=False):
        """Runs hearthd --restore into @target. With @delay None, lets it
        finish and returns (seconds until its staging appeared, seconds in
        all). Else kills it @delay seconds after its staging appeared (after
        it started, @from_start) and returns (its exit status, seconds it
        took if it finished first, counted from the same moment)."""
        p = subprocess.Popen([HEARTHD, "--state-dir", target, "--restore", self.restore_backup],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=DAEMON_ENV)
        staging = os.path.join(target, ".hearth-restore")
        t0 = time.monotonic()
        if not from_start:
            while not os.path.isdir(staging) and p.poll() is None:
                sleep_until(time.monotonic() + 0.0002)
        t_staged = time.monotonic()
        if delay is None:
            _, err = p.communicate(timeout=120)
            if p.returncode != 0:
                raise Inconsistent(f"hearthd --restore: {err.strip()}")
            return t_staged - t0, time.monotonic() - t0
        finished = None
        end = t_staged + delay
        while time.monotonic() < end and finished is None:
            if p.poll() is not None:
                finished = time.monotonic() - t_staged
            sleep_until(min(end, time.monotonic() + 0.0005))
        p.kill()
        p.communicate(timeout=120)
        return p.returncode, finished

    def check_restored(self, target, what):
        if os.path.exists(os.path.join(target, ".hearth-restore")):
            raise Inconsistent(f"{target}: a restore's staging is still there")
        restored = snapshot(target)
        source = self.restore_source
        if counts(restored) != counts(source) or restored["households"] != source["households"]:
            raise Inconsistent(f"{target} holds {counts(restored)} after a restore, "
                               f"the backup {counts(source)}")
        for f in ("gateway.key", "ca.key"):
            with open(os.path.join(target, f), "rb") as a, \
                    open(os.path.join(self.gw.state, f), "rb") as b:
                if a.read() != b.read():
                    raise Inconsistent(f"{target}: its restored {f} is not the backup's")
        self.outcomes[what] += 1

    def check_backup(self, path, s):
        if os.stat(path).st_mode & 0o777 != 0o600:
            raise Inconsistent(f"backup {path} is not 0600")
        target = self.fresh("restored")
        restore = run(HEARTHCTL, "--state-dir", target, "restore", path, check=False)
        if restore.returncode != 0:
            raise Inconsistent(f"the backup {path} left by a kill is refused: {restore.stderr.strip()}")
        restored = snapshot(target)
        if counts(restored) != counts(s) or restored["households"] != s["households"]:
            raise Inconsistent(f"backup {path} holds {counts(restored)}, the store {counts(s)}")
        for f in ("gateway.key", "gateway.crt", "ca.key", "ca.crt"):
            with open(os.path.join(target, f), "rb") as a, open(os.path.join(self.gw.state, f), "rb") as b:
                if a.read() != b.read():
                    raise Inconsistent(f"backup {path}: its {f} is not the gateway's")
        shutil.rmtree(target)
        os.unlink(path)

    def migration_gateway(self, paired):
        """A state directory as an old release left it."""
        gw = Gateway(self.root, f"old-{self.seq}-{'paired' if paired else '0001'}", fixed_ports=False)
        self.seq += 1
        os.makedirs(gw.state, mode=0o700)
        db = os.path.join(gw.state, "hearth.db")
        if paired:
            for f in ("gateway.key", "gateway.crt"):
                shutil.copy(os.path.join(FIXTURE_PAIRED, "state", f), gw.state)
            con = sqlite3.connect(db)
            with open(os.path.join(FIXTURE_PAIRED, "state", "hearth.sql")) as f:
                con.executescript(f.read())
            con.close()
        else:
            shutil.copy(FIXTURE_0001, db)
            # Its cameras at LAN addresses move to where nothing answers.
            con = sqlite3.connect(db)
            con.execute("UPDATE cameras SET url = 'rtsp://127.0.0.1:1/' || id")
            con.commit()
            con.close()
        for f in os.listdir(gw.state):
            os.chmod(os.path.join(gw.state, f), 0o600)
        return gw, snapshot(gw.state)

    def round_migrate(self):
        gw, old = self.migration_gateway(rng.random() < 0.5)
        self.others = [gw]
        newest = max(snapshot(self.gw.state)["version"], 1)
        sock = os.path.join(gw.state, "hearthd.sock")
        mode = rng.choices(["early", "file", "delay"], [1, 2, 5])[0]
        trigger = rng.choice(FIRST_START_FILES) if mode == "file" else None
        delay = (rng.uniform(0, self.migrate_starts) if mode == "early"
                 else self.timing["migrate"].draw())
        t0 = time.monotonic()
        gw.spawn()
        if mode == "file":
            path = os.path.join(gw.state, trigger)
            while not os.path.exists(path) and time.monotonic() - t0 < START_DEADLINE:
                pass
        elif mode == "early":
            sleep_until(t0 + delay)
        else:
            # From the moment hearthd says it migrates: its start before that
            # (TLS set-up, opening the store) takes longer than the migration.
            wait_until("hearthd to migrate", lambda: "Migrating" in gw.log_since_start(),
                       START_DEADLINE, poll=0.0002)
            sleep_until(time.monotonic() + delay)
        ready = os.path.exists(sock)
        gw.kill()
        killed_at = time.monotonic() - t0
        migrating = "Migrating" in gw.log_since_start()
        outcome = "after" if ready else "during" if migrating else "before"
        if mode == "delay":
            self.timing["migrate"].learn(delay, outcome)
        self.outcomes[f"migrate:{mode if mode != 'file' else 'on-' + trigger}"] += 1
        leftovers = check_files(gw.state, allow_leftovers=True)
        self.leftovers.update(leftover_kind(n) for n in leftovers)
        mid = snapshot(gw.state)
        same = (mid["households"] == old["households"] and set(mid["cameras"]) == set(old["cameras"])
                and set(mid["displays"]) == set(old["displays"]))
        if mid["version"] not in (old["version"], newest) or not same:
            raise Inconsistent(f"migration killed at {killed_at * 1000:.1f} ms: schema "
                               f"{mid['version']} (was {old['version']}), rows the same: {same}")
        self.outcomes["migrate:" + ("old" if mid["version"] == old["version"] else "migrated")] += 1
        self.restart_gateway(gw)
        done = snapshot(gw.state)
        if done["version"] != newest or counts(done) != counts(old):
            raise Inconsistent(f"after the restart: schema {done['version']}, counts {counts(done)}, "
                               f"want {newest} and {counts(old)}")
        check_files(gw.state, allow_leftovers=False)
        check_online(gw.state, done)
        gw.stop()
        self.criticals += gw.criticals()
        shutil.rmtree(gw.state)
        return outcome

    # --- after every kill ----------------------------------------------------------------

    def offline(self, before):
        leftovers = check_files(self.gw.state, allow_leftovers=True)
        self.leftovers.update(leftover_kind(n) for n in leftovers)
        s = snapshot(self.gw.state)
        if s["version"] != before["version"]:
            raise Inconsistent(f"schema version {before['version']} → {s['version']}")
        return s

    def restart_gateway(self, gw):
        took = gw.start()
        self.restart_max = max(self.restart_max, took)

    def restart(self, s):
        self.restart_gateway(self.gw)
        check_files(self.gw.state, allow_leftovers=False)
        check_online(self.gw.state, s)

    # --- the loop ---------------------------------------------------------------------

    def run(self):
        self.criticals = []
        self.setup()
        self.calibrate()
        order = []
        for i in range(ROUNDS):
            self.round = i + 1
            if not order:
                order = OPS[:]
                rng.shuffle(order)
            op = order.pop()
            outcome = getattr(self, f"round_{op}")()
            self.kills[op][outcome] += 1
            if (i + 1) % 25 == 0 or i + 1 == ROUNDS:
                log(f"{i + 1}/{ROUNDS} kills")
        self.gw.stop()
        self.criticals += self.gw.criticals()


def main():
    started = time.monotonic()
    print(f"crashloop: seed {SEED} (HEARTH_CRASHLOOP_SEED={SEED} replays it), "
          f"{ROUNDS} kills", flush=True)
    root = tempfile.mkdtemp(prefix="crashloop-", dir=os.path.join(BUILD, "tests"))
    loop = CrashLoop(root)
    failure = None
    try:
        loop.run()
    except (Inconsistent, subprocess.TimeoutExpired) as e:
        failure = f"kill {loop.round}: {e}"
    except Exception as e:
        traceback.print_exc()
        failure = f"kill {loop.round}: {e!r}"
    finally:
        for gw in [loop.gw] + loop.others:
            if gw.proc is not None:
                gw.proc.kill()
                gw.proc.wait()
    problems = []
    if failure:
        problems.append(failure)
    if loop.criticals:
        problems.append(f"hearthd logged criticals: {loop.criticals[:3]}")
    print(f"\nseed {SEED}, {sum(sum(c.values()) for c in loop.kills.values())} kills "
          f"in {time.monotonic() - started:.1f} s")
    print(f"{'operation':<10}{'before':>8}{'during':>8}{'after':>8}")
    # Where a kill lands depends on the machine's speed at that moment: a
    # quarter of all kills must land inside the work, and every operation
    # killed 20 times or more must have been killed inside it at least once.
    during = total_kills = 0
    for op in OPS:
        c = loop.kills[op]
        print(f"{op:<10}{c['before']:>8}{c['during']:>8}{c['after']:>8}")
        total = sum(c.values())
        during += c["during"]
        total_kills += total
        if not failure and total >= 20 and c["during"] == 0:
            problems.append(f"none of {total} {op} kills landed during the operation")
    if not failure and during * 4 < total_kills:
        problems.append(f"only {during} of {total_kills} kills landed during an operation")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(loop.outcomes.items())))
    print("left in the state directory by a kill (removed at the next start): " +
          (", ".join(f"{k} {v}" for k, v in sorted(loop.leftovers.items())) or "nothing"))
    print(f"stores read through a recovered copy: {READ_COPIES['recovered copies']}")
    print(f"slowest restart after a kill: {loop.restart_max:.2f} s (deadline {START_DEADLINE} s)")
    if loop.orphans:
        print(f"orphans: {len(loop.orphans)} pairing(s) committed whose answer never reached "
              f"the display (round, kill at ms): {loop.orphans[:5]}")
    if problems:
        for p in problems:
            print(f"FAIL: {p}")
        print(f"(work directory kept: {root}; gateway log: {loop.gw.log_path})")
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
