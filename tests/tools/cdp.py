#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Drives one headless Chromium for a test, over the DevTools protocol.

    cdp.py --home DIR --policies DIR [--chromium PATH]

Chromium runs with HOME=DIR (its NSS database, the display's identity, is in
DIR/.pki/nssdb), its own profile in DIR/profile, and, inside a private mount
namespace, the test's policies bound over Chromium's policy directory, so a
test's policy (which certificate to present to which URL) never touches the
machine's /etc (--policies DIR holds managed/NAME.json). The protocol goes over --remote-debugging-pipe (fds 3 and 4,
NUL-terminated JSON): no port is opened, no library is needed.

Commands, one a line on stdin; one answer a line on stdout, "ok JSON" or
"error MESSAGE":

    open URL                  navigate the page (a changed #fragment alone is
                              a same-document navigation)
    eval EXPR                 the value of a JavaScript expression (promises
                              are awaited)
    hide                      cover the page with another tab (it becomes hidden)
    show                      uncover it
    wait SECONDS EXPR         EXPR again every 50 ms until it is truthy; its
                              value, or an error at the deadline with the
                              last value
"""
import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

CHROMIUM_FLAGS = [
    "--headless=new",
    "--remote-debugging-pipe",
    # Chromium refuses to run as root with its sandbox; the tests run as root.
    *(["--no-sandbox"] if os.geteuid() == 0 else []),
    "--no-first-run", "--no-default-browser-check", "--disable-sync",
    "--disable-background-networking", "--disable-component-update",
    "--disable-extensions", "--disable-default-apps", "--disable-breakpad",
    "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain",
    # No name resolves and no address but loopback is reached by name.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio", "--disable-gpu", "--window-size=1280,800",
]
MANAGED_DIR = "/etc/chromium/policies/managed"
POLICY_PARENTS = ["/etc/chromium/policies", "/etc/chromium"]


class Browser:
    def __init__(self, home, policies, chromium):
        to_child, self.tx = os.pipe()
        self.rx, from_child = os.pipe()
        # Out of the way of 3 and 4, which the child gets them as.
        hi = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child, from_child)]
        for fd in (to_child, from_child):
            os.close(fd)

        def child_fds():
            os.dup2(hi[0], 3)
            os.dup2(hi[1], 4)

        # The deepest of Chromium's policy directories that exists is
        # replaced; above the managed one, by a copy that adds ours.
        if os.path.isdir(MANAGED_DIR):
            source, target = os.path.join(policies, "managed"), MANAGED_DIR
        else:
            target = next(d for d in POLICY_PARENTS if os.path.isdir(d))
            source = os.path.join(home, "policy-mount")
            shutil.copytree(target, source, symlinks=True, dirs_exist_ok=True)
            below = os.path.relpath(os.path.join(MANAGED_DIR, ".."), target)
            shutil.copytree(policies, os.path.normpath(os.path.join(source, below)),
                            dirs_exist_ok=True)
        env = dict(os.environ, HOME=home)
        env.pop("ASAN_OPTIONS", None)
        env.pop("LSAN_OPTIONS", None)
        script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
        self.log = open(os.path.join(home, "chromium.log"), "ab")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
             source, target, chromium, *CHROMIUM_FLAGS,
             f"--user-data-dir={home}/profile", "about:blank"],
            env=env, preexec_fn=child_fds, pass_fds=(3, 4),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        for fd in hi:
            os.close(fd)
        self.next_id = 0
        self.buffer = b""
        self.session = None
        self.cover = None
        target_id = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target_id,
                                 flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self.tx, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                data = os.read(self.rx, 1 << 16)
                if not data:
                    raise RuntimeError("chromium exited")
                self.buffer += data
            raw, self.buffer = self.buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") != self.next_id:
                continue  # an event
            if "error" in answer:
                raise RuntimeError(answer["error"].get("message", "protocol error"))
            return answer["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description")
                               or details.get("text", "exception"))
        return result["result"].get("value")

    def hide(self, hidden):
        """Hides the page behind a blank tab of its window, or shows it again."""
        if hidden and not self.cover:
            self.cover = self.call("Target.createTarget", url="about:blank",
                                   newWindow=False)["targetId"]
            self.call("Target.activateTarget", targetId=self.cover)
        elif not hidden and self.cover:
            self.call("Target.closeTarget", targetId=self.cover)
            self.cover = None

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--policies", required=True)
    parser.add_argument("--chromium", default="/usr/lib/chromium/chromium"
                        if os.path.exists("/usr/lib/chromium/chromium")
                        else shutil.which("chromium"))
    args = parser.parse_args()
    # Stopped by the test's cleanup: Chromium goes with us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    browser = Browser(args.home, args.policies, args.chromium)
    try:
        for line in sys.stdin:
            verb, _, rest = line.rstrip("\n").partition(" ")
            try:
                if verb == "open":
                    value = browser.call("Page.navigate", url=rest).get("errorText")
                    if value:
                        raise RuntimeError(value)
                elif verb in ("hide", "show"):
                    browser.hide(verb == "hide")
                    value = None
                elif verb == "eval":
                    value = browser.evaluate(rest)
                elif verb == "wait":
                    seconds, _, expression = rest.partition(" ")
                    deadline = time.monotonic() + float(seconds)
                    while True:
                        try:
                            value = browser.evaluate(expression)
                        except RuntimeError as e:
                            value = f"exception: {e}"
                        if value and not str(value).startswith("exception: "):
                            break
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"still {json.dumps(value)} after {seconds}s")
                        time.sleep(0.05)
                else:
                    raise RuntimeError(f"unknown command {verb!r}")
                print("ok", json.dumps(value), flush=True)
            except RuntimeError as e:
                print("error", str(e).replace("\n", " "), flush=True)
    finally:
        browser.close()


if __name__ == "__main__":
    main()
