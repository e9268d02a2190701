"""The deployment examples in deploy/ (and the Dockerfile) run as written.

Cron and systemd start commands with an almost empty environment: each example's command is
run here under `env -i`, with only the paths rewritten to this machine's.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from seqctl.cli import app
from tests.conftest import Launch, Run
from tests.playbooks import INTRO

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SEQCTL = Path(sys.executable).parent / "seqctl"  # this virtualenv's console script
BARE_PATH = "/usr/bin:/bin"  # cron's PATH


@pytest.fixture
def due(launch: Launch, project: Path) -> Path:
    """A playbook repository with two messages due now, by the real clock (no --now)."""
    if not SEQCTL.exists():
        pytest.skip(f"no console script at {SEQCTL}")
    contacts = "key,email,first_name\nana,ana@x.test,Ana\nbob,bob@x.test,Bob\n"
    run = launch({"intro": INTRO}, contacts, at="2026-01-01T00:00:00Z")
    assert run("enroll", "intro", "--contact", "ana", "--contact", "bob").exit_code == 0
    (project / "seqctl.yaml").write_text("database: seqctl.db\n", "utf-8")
    return project


def here(text: str, project: Path, env_file: Path) -> str:
    """The example's paths rewritten to this machine's."""
    return (
        text.replace("/srv/seqctl/.venv/bin/seqctl", str(SEQCTL))
        .replace("/srv/playbooks", str(project))
        .replace("/etc/seqctl/env", str(env_file))
        .replace("/var/log/seqctl", str(project / "log"))
    )


def test_the_cron_line_works_in_crons_bare_environment(due: Path) -> None:
    env_file = due / "env"
    env_file.write_text("SMTP_PASSWORD=not-used-by-the-file-channel\n", "utf-8")
    (due / "log").mkdir()
    (entry,) = [
        line
        for line in (DEPLOY / "cron" / "seqctl.crontab").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    fields = entry.split(None, 5)
    assert fields[:5] == ["*"] * 5 and "%" not in fields[5]  # cron would cut a command at %

    done = subprocess.run(
        ["env", "-i", f"PATH={BARE_PATH}", "/bin/sh", "-c", here(fields[5], due, env_file)],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "handled 2 due: 2 sent" in (due / "log" / "tick.log").read_text("utf-8")
    assert len((due / "outbox.jsonl").read_text("utf-8").splitlines()) == 2


def unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's settings (a key may repeat)."""
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text("utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_systemd_tick_service_runs_as_systemd_would_start_it(due: Path) -> None:
    service = unit("seqctl-tick.service")
    env_file = due / "env"
    env_file.write_text("# secrets\nSMTP_PASSWORD=x\n", "utf-8")
    (environment,) = service["EnvironmentFile"]
    assert environment.startswith("-")  # optional: a missing file is not an error
    variables = [
        line for line in env_file.read_text("utf-8").splitlines() if line and line[0] != "#"
    ]
    (command,) = service["ExecStart"]
    (workdir,) = service["WorkingDirectory"]

    done = subprocess.run(
        ["env", "-i", *variables, *shlex.split(here(command, due, env_file))],
        cwd=here(workdir, due, env_file),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["event"], record["sent"]) == ("tick", 2)
    codes = {int(code) for code in service["SuccessExitStatus"][0].split()}
    assert codes == {130, 143}  # a tick stopped by systemctl stop is not a failure
    assert unit("seqctl-tick.timer")["OnCalendar"] == ["*-*-* *:*:00"]


def test_the_events_service_command_is_one_seqctl_accepts(run: Run) -> None:
    (command,) = unit("seqctl-events.service")["ExecStart"]
    args = shlex.split(command)[1:]
    assert args[:2] == ["events", "serve"]
    assert run(*args, "--help").exit_code == 0
    assert unit("seqctl-events.service")["KillSignal"] == ["SIGINT"]


def test_the_kubernetes_cronjob_never_overlaps_and_runs_the_tick(run: Run) -> None:
    job = yaml.safe_load((DEPLOY / "kubernetes" / "cronjob.yaml").read_text("utf-8"))
    spec = job["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert (job["kind"], spec["schedule"], spec["concurrencyPolicy"]) == (
        "CronJob",
        "* * * * *",
        "Forbid",
    )
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["args"][0] == "tick"
    assert run("--now=2026-11-23T09:00:00Z", *container["args"]).exit_code == 0


def test_the_compose_file_and_dockerfile_agree_with_the_cli(run: Run) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))  # type: ignore[union-attr]

    assert re.search(r"^USER seqctl$", dockerfile, re.M)  # not root
    assert cmd == ["tick", "--every", "60s"]
    assert compose["services"]["tick"]["command"] == cmd
    for service in compose["services"].values():
        assert run(*service["command"], "--help").exit_code == 0


def _docker() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _docker(), reason="no Docker engine here: the image is not built")
def test_the_image_builds_and_ticks(due: Path) -> None:  # pragma: no cover - needs docker
    tag = "seqctl-test:latest"
    subprocess.run(["docker", "build", "-q", "-t", tag, str(ROOT)], check=True, timeout=900)
    subprocess.run(["chown", "-R", "10001", str(due)], check=True)  # the image's user
    done = subprocess.run(
        ["docker", "run", "--rm", "-v", f"{due}:/playbooks", tag, "tick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == 2


def _compose_postgres() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.postgres.yaml").read_text("utf-8"))
    return data


def test_the_postgres_compose_file_starts_the_database_first_and_ticks(run: Run) -> None:
    compose = _compose_postgres()
    services = compose["services"]
    database, init, tick = services["postgres"], services["init"], services["tick"]

    assert set(services) == {"postgres", "init", "tick"}
    assert database["image"] == "postgres:16"
    assert database["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    (volume,) = database["volumes"]
    assert volume.split(":")[0] in compose["volumes"]  # a named volume: the data outlives it
    assert init["command"] == ["db", "init"]
    assert init["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert tick["command"] == ["tick", "--every", "60s"]
    assert tick["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
    for service in (init, tick):
        assert service["env_file"] == ["seqctl.env"]  # SEQCTL_DB and PGPASSWORD
        assert service["volumes"] == ["./playbooks:/playbooks:ro"]
        assert run(*service["command"], "--help").exit_code == 0


def test_the_postgres_compose_file_holds_no_password() -> None:
    services = _compose_postgres()["services"]
    for name, service in services.items():
        for key in service.get("environment", {}):
            assert "PASSWORD" not in key.upper() and key != "SEQCTL_DB", (name, key)
    text = (DEPLOY / "compose.postgres.yaml").read_text("utf-8")
    assert not re.search(r"://[^@\s/]*:[^@\s/]*@", text)  # no user:password@ in a URL
    assert not re.search(r"^\s*[A-Z_]*PASSWORD[A-Z_]*\s*[:=]\s*\S", text, re.M)


def test_the_postgres_compose_commands_run_on_an_empty_database(
    bare: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `init` and one round of `tick` do, with SEQCTL_DB as seqctl.env sets it."""
    services = _compose_postgres()["services"]
    monkeypatch.setenv("SEQCTL_DB", postgres_url)
    runner = CliRunner()

    init = runner.invoke(app, services["init"]["command"], catch_exceptions=False)
    again = runner.invoke(app, services["init"]["command"], catch_exceptions=False)
    tick = runner.invoke(app, ["tick", "--json"], catch_exceptions=False)

    assert (init.exit_code, again.exit_code) == (0, 0), init.output + again.output
    assert "database is ready: postgresql://" in init.output
    assert tick.exit_code == 0, tick.output
    assert json.loads(tick.stdout)["sent"] == 0
