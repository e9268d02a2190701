"""A tick with runaway templates beside a normal sequence: the normal messages all go out, each
runaway enrollment fails with its reason, and the tick ends soon, in little memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import BOTH_STORES, Launch
from tests.playbooks import auto_playbook

pytestmark = BOTH_STORES

# Run the command in a child and write [its exit code, its peak memory in KiB] to a file.
_PEAK = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
with open(os.environ["SEQCTL_PEAK_FILE"], "w") as peak:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss], peak)
"""

BOMBS = {
    "endless": (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "rendering took longer than 2 s",
    ),
    "huge": (
        "{% for a in range(100000) %}{% for b in range(1000) %}"
        + "x" * 100
        + "{% endfor %}{% endfor %}",
        "the rendered text is longer than 1,000,000 characters",
    ),
    "center": ("{{ 'x'|center(1100000000) }}", "center would make 1,100,000,000 characters"),
    "lipsum": ("{{ lipsum(2000000) }}", "lipsum would make"),
    "repeat": ("{{ 'ab' * 1000000000 }}", "'*' would make 2,000,000,000 characters"),
    "itself": (
        "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "the template calls itself without end",
    ),
}


def playbook(sequence: str, body: str) -> str:
    step = f"""
  - id: hello
    type: email
    subject: Hello
    body: "{body}"
"""
    return auto_playbook(sequence, step)


def test_runaway_templates_fail_alone(launch: Launch, project: Path) -> None:
    playbooks = {name: playbook(name, source) for name, (source, _) in BOMBS.items()}
    playbooks["welcome"] = playbook("welcome", "Hi {{ contact.first_name }}!")
    contacts = "".join(f"c{i},c{i}@example.test,Name{i}\n" for i in range(3))
    run = launch(playbooks, "key,email,first_name\n" + contacts)
    for sequence in playbooks:
        keys = [f"--contact=c{i}" for i in range(3)]
        assert run("--now=2026-11-23T08:00:00Z", "enroll", sequence, *keys).exit_code == 0

    started = time.monotonic()
    command = [sys.executable, "-m", "seqctl", "--now=2026-11-23T08:00:00Z", "tick", "--json"]
    with (project / "tick.out").open("w") as out, (project / "tick.err").open("w") as err:
        # Started by a small Python of its own: a child's peak memory counts the image it was
        # forked from, and this test process grows to hundreds of MB in a full run.
        waiter = subprocess.run(
            [sys.executable, "-c", _PEAK, *command],
            cwd=project,
            stdout=out,
            stderr=err,
            env={**os.environ, "SEQCTL_PEAK_FILE": str(project / "tick.peak")},
        )
    elapsed = time.monotonic() - started
    returncode, peak_kib = json.loads((project / "tick.peak").read_text())
    assert waiter.returncode == 0

    assert "Traceback" not in (project / "tick.err").read_text()
    report = json.loads((project / "tick.out").read_text())
    assert (report["sent"], report["failed"]) == (3, 3 * len(BOMBS))
    assert returncode == 1  # failed sends
    assert elapsed < 30  # one time limit (2 s) for the endless template, not one per contact
    assert peak_kib < 300 * 1024  # KiB: no bomb went off
    lines = (project / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["body"] for line in lines) == [
        "Hi Name0!",
        "Hi Name1!",
        "Hi Name2!",
    ]
    for sequence, (_, reason) in BOMBS.items():
        enrollments = run("enrollments", sequence, "--json").json
        assert {e["state"] for e in enrollments} == {"failed"}, sequence
        assert all(reason in e["reason"] for e in enrollments), (sequence, enrollments)
    endless = run("enrollments", "endless", "--json").json
    assert sum("for an earlier message" in e["reason"] for e in endless) == 2
