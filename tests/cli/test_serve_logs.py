"""`seqctl events serve --log-format json`: what it says, one JSON object a line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cli.test_tick_every import lines_until


def test_serve_logs_requests_as_json_lines_without_query_strings(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    env["SEQCTL_EVENTS_SECRET"] = "s3cret"
    args = ["events", "serve", "--port", "0", "--log-format", "json", "--verbose"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqctl", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        (first,) = lines_until(proc, 1)
        listening = json.loads(first)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(listening["url"] + "/nowhere?token=abc", timeout=10)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()

    assert listening["event"] == "listening" and listening["url"].startswith("http://127.0.0.1:")
    assert refused.value.code == 404
    requests = [json.loads(line) for line in err.splitlines()]
    assert [(r["event"], r["method"], r["path"], r["status"]) for r in requests] == [
        ("request", "GET", "/nowhere", 404)
    ]
    assert "abc" not in err and requests[0]["ts"].endswith("Z")
    assert json.loads(out)["event"] == "stop"
