"""The mermaid output of `seqctl graph` renders in a real browser with Mermaid itself."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser import chromium, dump_dom
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


@pytest.mark.skipif(not MERMAID.exists(), reason="mermaid.min.js not fetched (make test does)")
def test_the_mermaid_diagram_renders(
    run: Run, write: Callable[[str, str], Path], project: Path
) -> None:
    browser = chromium()
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
    done = dump_dom(
        browser,
        page,
        project / "chromium",
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
        timeout=90,
    )
    assert 'data-done="ok"' in done.stdout, done.stdout[-500:]
    assert 'aria-roledescription="flowchart' in done.stdout
    for label in ("hello: email", "check: branch", "completed", "exited"):
        assert label in done.stdout
