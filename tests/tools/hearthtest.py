# SPDX-License-Identifier: GPL-2.0-or-later
"""What the Python tests (torture, crash loop) share."""

import random
import socket
import time


def log(*args):
    """A line of progress, stamped with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A TCP port on loopback that nothing listens on now, for a gateway to
    keep across restarts (and a pairing port that opens and closes). It is
    below the kernel's ephemeral range: a port from that range, free now,
    can be taken by any process's next outgoing connection."""
    rng = random.SystemRandom()
    low = _ephemeral_low()
    for _ in range(200):
        port = rng.randrange(10000, low) if low > 11000 else rng.randrange(1024, 65536)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port below the ephemeral range")
