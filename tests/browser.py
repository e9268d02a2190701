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
