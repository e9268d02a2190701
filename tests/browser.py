"""Headless Chromium for the tests that check a page really renders (make test installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# No network, no first-run work, no sandbox (containers): only the page.
HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    """The Chromium on this machine; without one, the test calling this is skipped."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium package)")
    return found


def dump_dom(
    browser: str, page: Path, profile: Path, *flags: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Open `page` with a fresh `profile`; stdout is its DOM once loaded, stderr the logs."""
    return subprocess.run(
        [browser, *HEADLESS, f"--user-data-dir={profile}", *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4).

    Lets a test set the viewport (a laptop, a phone) and evaluate JavaScript in the page; the
    page's own Content-Security-Policy does not apply to DevTools. Use as a context manager.
    """

    def __init__(self, browser: str, profile: Path, *, timeout: float = 60) -> None:
        import os

        self.timeout = timeout
        to_child, self._send = os.pipe()
        self._read, from_child = os.pipe()

        def wire() -> None:  # in the child: its fd 3 reads commands, fd 4 writes answers
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        self.process = subprocess.Popen(
            [browser, *HEADLESS, f"--user-data-dir={profile}", "--remote-debugging-pipe"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,  # noqa: PLW1509 - the only way to hand over fds 3 and 4
            pass_fds=(3, 4),
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._events: list[str] = []  # events seen while waiting for an answer
        self._next = 0
        self.session: str | None = None

    def __enter__(self) -> DevTools:
        target = self.call("Target.createTarget", url="about:blank", session=False)
        attached = self.call(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True, session=False
        )
        self.session = attached["sessionId"]
        self.call("Page.enable")
        return self

    def __exit__(self, *exc: object) -> None:
        import os

        try:
            self.call("Browser.close", session=False)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._send)
        os.close(self._read)

    def _message(self) -> dict[str, object]:
        import json
        import os
        import select

        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], self.timeout)
            if not ready:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, object] = json.loads(raw)
        return message

    def call(self, method: str, *, session: bool = True, **params: object) -> dict[str, object]:
        """Send one command; its result (events that come before it are kept for wait_for)."""
        import json
        import os

        self._next += 1
        command: dict[str, object] = {"id": self._next, "method": method, "params": params}
        if session and self.session is not None:
            command["sessionId"] = self.session
        os.write(self._send, json.dumps(command).encode() + b"\0")
        while True:
            message = self._message()
            if "method" in message:
                self._events.append(str(message["method"]))
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result = message.get("result") or {}
                assert isinstance(result, dict)
                return result

    def wait_for(self, event: str) -> None:
        if event in self._events:
            self._events.remove(event)
            return
        while self._message().get("method") != event:
            pass

    def open(self, page: Path, *, width: int, height: int, mobile: bool) -> None:
        """Load `page` in a viewport of this size (a phone: `mobile`, touch, 2x pixels)."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if mobile else 1,
            mobile=mobile,
        )
        self._events.clear()
        self.call("Page.navigate", url=page.as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> object:
        """The JSON value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        value = result["result"]
        assert isinstance(value, dict)
        return value.get("value")

    def screenshot(self, path: Path, *, whole: bool = True) -> None:
        """A PNG of the whole page (or of the screen), to look at when a check fails."""
        import base64

        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=whole)
        path.write_bytes(base64.b64decode(str(shot["data"])))
