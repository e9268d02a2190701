"""The mermaid output of `seqctl graph` renders in a real browser with Mermaid itself."""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run

MERMAID = Path(__file__).resolve().parents[2] / ".cache" / "mermaid.min.js"
PLAYBOOK = """
sequence: shapes
steps:
  - id: hello
    type: email
    subject: "Hi \\"there\\""
    body: Hello
  - id: check
    type: branch
    wait: 2 days
    if: "opened('hello')"
    then: call
    else: nudge
  - id: nudge
    type: email
    subject: Nudge
    body: Nudge
    next: end
  - id: call
    type: call
"""


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(browser() is None, reason="chromium is not installed (make test installs it)")
@pytest.mark.skipif(not MERMAID.exists(), reason="mermaid.min.js not fetched (make test does)")
def test_the_mermaid_diagram_renders(
    run: Run, write: Callable[[str, str], Path], project: Path
) -> None:
    write("playbooks/shapes.yaml", PLAYBOOK)
    diagram = run("graph", "playbooks/shapes.yaml").stdout
    page = project / "graph.html"
    page.write_text(
        "<!doctype html><html><body>"
        f'<pre class="mermaid">{html.escape(diagram)}</pre>'
        f'<script src="{MERMAID.as_uri()}"></script>'
        "<script>mermaid.initialize({startOnLoad: false});"
        "mermaid.run().then(() => document.body.dataset.done = 'ok')"
        ".catch(e => document.body.dataset.done = 'error: ' + e);</script>"
        "</body></html>",
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            str(browser()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={project / 'chromium'}",
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert 'data-done="ok"' in done.stdout, done.stdout[-500:]
    assert 'aria-roledescription="flowchart' in done.stdout
    for label in ("hello: email", "check: branch", "completed", "exited"):
        assert label in done.stdout
