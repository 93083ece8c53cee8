#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Drives one headless browser for a test: Chromium or Firefox.

    browser.py --kind chromium --home DIR --policies DIR [--flag FLAG...]
    browser.py --kind firefox --home DIR

Chromium runs with HOME=DIR (its NSS database, the display's identity, is in
DIR/.pki/nssdb), its own profile in DIR/profile, and, inside a private mount
namespace, the test's policies bound over Chromium's policy directory, so a
test's policy (which certificate to present to which URL) never touches the
machine's /etc (--policies DIR holds managed/NAME.json). It is driven over
--remote-debugging-pipe (fds 3 and 4, NUL-terminated JSON, the DevTools
protocol): no port is opened.

Firefox runs with the profile DIR/profile (its NSS database and user.js, made
by the test) and is driven by WebDriver BiDi over a WebSocket on a loopback
port it picks; the small WebSocket client is here, no library is needed.

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

Chromium only:

    downloads DIR             save what a link downloads in DIR
"""
import argparse
import base64
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
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
    """What both browsers share: the process, which close() ends."""

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Chromium(Browser):
    def __init__(self, home, policies, chromium, flags):
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
             source, target, chromium, *CHROMIUM_FLAGS, *flags,
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
        if self.session and not method.startswith(("Target.", "Browser.")):
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

    def navigate(self, url):
        error = self.call("Page.navigate", url=url).get("errorText")
        if error:
            raise RuntimeError(error)

    def hide(self, hidden):
        """Hides the page behind a blank tab of its window, or shows it again."""
        if hidden and not self.cover:
            self.cover = self.call("Target.createTarget", url="about:blank",
                                   newWindow=False)["targetId"]
            self.call("Target.activateTarget", targetId=self.cover)
        elif not hidden and self.cover:
            self.call("Target.closeTarget", targetId=self.cover)
            self.cover = None


class WebSocket:
    """Just enough of RFC 6455 for a loopback peer: text messages."""

    def __init__(self, host, port, path):
        self.sock = socket.create_connection((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"no WebSocket: {head.decode(errors='replace')}")

    def fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise RuntimeError("the browser closed its WebSocket")
        self.buffer += data

    def take(self, n):
        while len(self.buffer) < n:
            self.fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text, opcode=1):
        data = text.encode() if isinstance(text, str) else text
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = bytes([0x80 | opcode, 0x80 | n])
        elif n < 1 << 16:
            header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        message = b""
        while True:
            b0, b1 = self.take(2)
            n = b1 & 0x7F
            if n >= 126:
                n = int.from_bytes(self.take(2 if n == 126 else 8), "big")
            payload = self.take(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise RuntimeError("the browser closed its WebSocket")
            if opcode == 9:
                self.send(payload, opcode=10)
            elif opcode in (0, 1, 2):
                message += payload
                if b0 & 0x80:
                    return message.decode()


def bidi_value(remote):
    """A WebDriver BiDi remote value as plain JSON."""
    kind = remote.get("type")
    if kind in ("array", "set"):
        return [bidi_value(v) for v in remote.get("value", [])]
    if kind == "object":
        return {k if isinstance(k, str) else str(bidi_value(k)): bidi_value(v)
                for k, v in remote.get("value", [])}
    if kind in ("string", "number", "boolean"):
        return remote["value"]
    return None


class Firefox(Browser):
    def __init__(self, home, firefox):
        self.log = open(os.path.join(home, "firefox.log"), "ab")
        env = dict(os.environ, HOME=home)
        env.pop("ASAN_OPTIONS", None)
        env.pop("LSAN_OPTIONS", None)
        self.proc = subprocess.Popen(
            [firefox, "--headless", "--no-remote", "--profile", os.path.join(home, "profile"),
             "--remote-debugging-port=0", "about:blank"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.PIPE)
        address = None
        for line in self.proc.stderr:
            self.log.write(line)
            match = re.search(rb"WebDriver BiDi listening on ws://([0-9.]+):([0-9]+)", line)
            if match:
                address = (match.group(1).decode(), int(match.group(2)))
                break
        if address is None:
            raise RuntimeError("firefox did not start its WebDriver BiDi")
        # The rest of its output goes to the log.
        threading.Thread(target=shutil.copyfileobj, args=(self.proc.stderr, self.log),
                         daemon=True).start()
        self.ws = WebSocket(*address, "/session")
        self.next_id = 0
        self.call("session.new", capabilities={})
        self.context = self.call("browsingContext.getTree")["contexts"][0]["context"]
        self.cover = None

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            answer = json.loads(self.ws.recv())
            if answer.get("id") != self.next_id:
                continue  # an event
            if answer.get("type") == "error":
                raise RuntimeError(f"{answer.get('error')}: {answer.get('message')}")
            return answer["result"]

    def navigate(self, url):
        self.call("browsingContext.navigate", context=self.context, url=url, wait="none")

    def evaluate(self, expression):
        result = self.call("script.evaluate", expression=expression,
                           target={"context": self.context}, awaitPromise=True,
                           resultOwnership="none")
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise RuntimeError(details.get("text", "exception"))
        return bidi_value(result["result"])

    def hide(self, hidden):
        """Hides the page behind another tab, or shows it again."""
        if hidden and not self.cover:
            self.cover = self.call("browsingContext.create", type="tab")["context"]
            self.call("browsingContext.activate", context=self.cover)
        elif not hidden and self.cover:
            self.call("browsingContext.close", context=self.cover)
            self.cover = None
            self.call("browsingContext.activate", context=self.context)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=["chromium", "firefox"], default="chromium")
    parser.add_argument("--home", required=True)
    parser.add_argument("--policies")
    parser.add_argument("--flag", action="append", default=[],
                        help="one more command-line flag for Chromium")
    args = parser.parse_args()
    # Stopped by the test's cleanup: the browser goes with us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.kind == "chromium":
        chromium = ("/usr/lib/chromium/chromium" if os.path.exists("/usr/lib/chromium/chromium")
                    else shutil.which("chromium"))
        browser = Chromium(args.home, args.policies, chromium, args.flag)
    else:
        browser = Firefox(args.home, shutil.which("firefox-esr") or shutil.which("firefox"))
    try:
        for line in sys.stdin:
            verb, _, rest = line.rstrip("\n").partition(" ")
            try:
                if verb == "open":
                    browser.navigate(rest)
                    value = None
                elif verb in ("hide", "show"):
                    browser.hide(verb == "hide")
                    value = None
                elif verb == "downloads" and args.kind == "chromium":
                    browser.call("Browser.setDownloadBehavior", behavior="allow",
                                 downloadPath=rest)
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
