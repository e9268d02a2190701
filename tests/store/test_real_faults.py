"""Read-only and full databases for real: a read-only mount, an immutable file, a full disk.

The tests run seqctl in a user and mount namespace of its own (`unshare -rm`), where it can
mount a read-only view of a folder or a tiny tmpfs without touching the machine; the immutable
file needs root (chattr +i; root ignores a mode of 0444, so that is the only way to make a
file read-only for the root user CI runs as). Where the system allows neither they are skipped:
tests/store/test_faults.py covers the same messages through SQLite's own read-only and size
limits, on any machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

NOW = "2026-11-23T08:00:00Z"
SEQCTL = [sys.executable, "-m", "seqctl"]


def seqctl(
    *args: str, cwd: Path, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    env["SEQCTL_NOW"] = NOW
    return subprocess.run(
        [*(prefix or []), *SEQCTL, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def namespaces_work(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    tried = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
        capture_output=True,
    )
    probe.rmdir()
    return tried.returncode == 0


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A folder with a seqctl database holding two contacts."""
    folder = tmp_path / "data"
    folder.mkdir()
    (tmp_path / "c.csv").write_text("key,email\nann,ann@example.com\nbob,bob@example.com\n")
    (tmp_path / "more.csv").write_text("key\ncy\n")
    assert seqctl("--db", "data/seqctl.db", "db", "init", cwd=tmp_path).returncode == 0
    done = seqctl("--db", "data/seqctl.db", "contacts", "import", "c.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return folder


def digest(folder: Path) -> str:
    return hashlib.sha256((folder / "seqctl.db").read_bytes()).hexdigest()


READS = (
    ("status",),
    ("contacts", "list", "--json"),
    ("contacts", "show", "ann", "--json"),
    ("enrollments", "--json"),
    ("messages", "--json"),
    ("timeline", "ann", "--json"),
    ("sequences", "list"),
)
WRITES = (("contacts", "import", "more.csv"), ("tick",), ("suppress", "ann"))


def read_only_mount(folder: Path) -> list[str]:
    """The prefix that runs a command with `folder` mounted read-only."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, str(folder)]


def test_a_read_only_mount_serves_every_read_and_refuses_writes(tmp_path: Path, data: Path) -> None:
    if not namespaces_work(tmp_path):
        pytest.skip("no user and mount namespaces here (unshare -rm)")
    before = digest(data)
    prefix = read_only_mount(data)
    for command in READS:
        result = seqctl("--db", "data/seqctl.db", *command, cwd=tmp_path, prefix=prefix)
        assert (result.returncode, result.stderr) == (0, ""), command
    listed = seqctl(
        "--db", "data/seqctl.db", "contacts", "list", "--json", cwd=tmp_path, prefix=prefix
    )
    assert [c["key"] for c in json.loads(listed.stdout)] == ["ann", "bob"]
    for command in WRITES:
        result = seqctl("--db", "data/seqctl.db", *command, cwd=tmp_path, prefix=prefix)
        assert (result.returncode, result.stdout) == (2, ""), command
        assert result.stderr == (
            "seqctl: data/seqctl.db: the database is read-only (the file, its folder or the "
            "disk) and this command writes to it; its unfinished work was rolled back: make the "
            "file and its folder writable, or use a copy\n"
        )
    assert digest(data) == before
    assert sorted(p.name for p in data.iterdir()) == ["seqctl.db"]


def test_a_database_to_create_in_a_read_only_folder_is_named(tmp_path: Path, data: Path) -> None:
    if not namespaces_work(tmp_path):
        pytest.skip("no user and mount namespaces here (unshare -rm)")
    result = seqctl("--db", "data/new.db", "db", "init", cwd=tmp_path, prefix=read_only_mount(data))
    assert (result.returncode, result.stderr) == (
        2,
        "seqctl: data/new.db: cannot create the database in data (a read-only folder or disk?); "
        "point --db, SEQCTL_DB or seqctl.yaml's `database` where seqctl can write\n",
    )


@pytest.fixture
def immutable(data: Path) -> Iterator[Path]:
    """The database file marked immutable (chattr +i): not even root may write it."""
    database = data / "seqctl.db"
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("chattr +i needs root")
    if subprocess.run(["chattr", "+i", str(database)], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable files")
    try:
        yield database
    finally:
        subprocess.run(["chattr", "-i", str(database)], check=True)


def test_an_immutable_database_file_serves_reads_and_refuses_writes(
    tmp_path: Path, immutable: Path
) -> None:
    before = hashlib.sha256(immutable.read_bytes()).hexdigest()
    for command in READS:
        result = seqctl("--db", "data/seqctl.db", *command, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (0, ""), command
    for command in WRITES:
        result = seqctl("--db", "data/seqctl.db", *command, cwd=tmp_path)
        assert result.returncode == 2, command
        assert "the database is read-only" in result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert hashlib.sha256(immutable.read_bytes()).hexdigest() == before


def test_a_full_disk_refuses_the_import_keeps_what_was_there_and_a_rerun_goes_on(
    tmp_path: Path, data: Path
) -> None:
    if not namespaces_work(tmp_path):
        pytest.skip("no user and mount namespaces here (unshare -rm)")
    (tmp_path / "big.csv").write_text(
        "key,email,notes\n" + "".join(f"k{i},k{i}@example.com,{'x' * 200}\n" for i in range(5000))
    )
    disk = tmp_path / "disk"
    disk.mkdir()
    room = (data / "seqctl.db").stat().st_size + 160 * 1024  # the database, its -shm, a little
    command = " ".join(SEQCTL) + " --db disk/seqctl.db"
    script = f"""
        mount -t tmpfs -o size={room} tmpfs disk
        cp data/seqctl.db disk/
        {command} contacts import big.csv > out/first 2>&1; echo $? > out/first.rc
        {command} contacts list --json > out/kept 2>&1
        mount -o remount,size=64m disk
        {command} contacts import big.csv > out/again 2>&1; echo $? > out/again.rc
        {command} contacts list --limit 0 --json > out/all 2>&1
    """
    (tmp_path / "out").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    env["SEQCTL_NOW"] = NOW
    subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=tmp_path, env=env, timeout=300)
    out = tmp_path / "out"
    assert (out / "first.rc").read_text() == "2\n"
    assert (out / "first").read_text() == (
        "seqctl: disk/seqctl.db: the disk is full (or the database reached its size limit); the "
        "unfinished work was rolled back: free some space and run the command again\n"
    )
    assert [c["key"] for c in json.loads((out / "kept").read_text())] == ["ann", "bob"]
    assert (out / "again.rc").read_text() == "0\n", (out / "again").read_text()
    assert len(json.loads((out / "all").read_text())) == 5002
