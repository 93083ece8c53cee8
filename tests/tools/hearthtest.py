# SPDX-License-Identifier: GPL-2.0-or-later
"""What the Python tests (torture, crash loop) share."""

import socket
import time


def log(*args):
    """A line of progress, stamped with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


def free_port():
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
