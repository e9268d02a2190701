"""The journal beside the database: what a killed tick's connections reported and the database
did not get is recorded by the next tick before it sends anything, once, whatever is left."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from seqctl.channels import ChannelSet, Delivery
from seqctl.engine.outbox.journal import Journal, mark_name, replay
from seqctl.engine.run.runtime import Versions
from seqctl.store import open_store
from tests.channels.conftest import free_port
from tests.channels.latency import Provider, http_server
from tests.conftest import Launch, Run
from tests.playbooks import auto_playbook

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)
KILLED_AT = datetime(2026, 11, 23, 8, 2, tzinfo=UTC)  # the --now of the tick that was killed
SMS = auto_playbook("texts", "  - id: hello\n    type: sms\n    body: Hello {{ contact.key }}\n")


@pytest.fixture
def waiting(
    launch: Launch, write: Callable[[str, str], Path]
) -> Callable[[int], tuple[Run, int, list[dict[str, Any]]]]:
    """`count` texts queued for a gateway that was down at the first tick: (run, its port, the
    messages)."""

    def make(count: int) -> tuple[Run, int, list[dict[str, Any]]]:
        port = free_port()
        run = launch({"texts": SMS}, "key,phone\n" + "".join(
            f"c{i},+35191000{i:04d}\n" for i in range(count)
        ))  # fmt: skip
        url = f"http://127.0.0.1:{port}/sms"
        write("seqctl.yaml", f"channels:\n  sms: {{kind: webhook, url: '{url}', connections: 1}}\n")
        assert (
            run("--now=2026-11-23T08:00:00Z", "enroll", "texts", "--file", "c.csv").exit_code == 0
        )
        assert run("--now=2026-11-23T08:00:00Z", "tick").exit_code == 0  # refused: all wait
        messages = sorted(run("messages", "--json").json, key=lambda m: m["id"])
        assert {m["status"] for m in messages} == {"queued"}
        return run, port, messages

    return make


def killed_mid_send(folder: Path, ids: list[int]) -> Journal:
    """The journal a tick leaves when killed as the fourth message went out: the first sent,
    the second failed for now (Retry-After: 600), the third refused for good."""
    first, second, third, fourth = ids
    journal = Journal(folder, mark_name("main", "sms"), KILLED_AT)
    journal.append([first], [])
    journal.append([second], [Delivery(first, provider_id="gw-1")])
    journal.append(
        [third], [Delivery(second, error="HTTP 503: busy", temporary=True, retry_after=600.0)]
    )
    journal.append([fourth], [Delivery(third, error="HTTP 400: bad number", temporary=False)])
    journal.close(keep=True)
    return journal


def states(project: Path) -> dict[int, tuple[str, int, int, str | None]]:
    """Each message's status, attempts, sends repeated after an unknown outcome, provider id."""
    with sqlite3.connect(project / "seqctl.db") as db:
        rows = db.execute("SELECT id, status, attempts, resent, provider_id FROM messages")
        return {row[0]: tuple(row[1:]) for row in rows}


def keys(project: Path) -> dict[int, str]:
    with sqlite3.connect(project / "seqctl.db") as db:
        return dict(db.execute("SELECT id, idempotency_key FROM messages"))


def test_the_next_tick_records_what_the_journal_holds_before_it_sends(
    waiting: Callable[[int], tuple[Run, int, list[dict[str, Any]]]], project: Path
) -> None:
    run, port, messages = waiting(5)
    ids = [m["id"] for m in messages]
    key = keys(project)
    folder = project / "seqctl.db.outcomes"
    killed_mid_send(folder, ids[:4])
    provider = Provider()
    with http_server(provider, port=port):
        report = run("--now=2026-11-23T08:05:00Z", "tick", "--json")
    assert report.exit_code == 1  # a step failed (the third message, refused for good)
    found = states(project)
    assert found[ids[0]] == ("sent", 1, 0, "gw-1")  # not sent again
    assert found[ids[1]][:3] == ("queued", 1, 0)  # waits for its Retry-After
    assert found[ids[2]][:2] == ("failed", 1)
    # In flight at the kill: sent again with its key, and `messages` says so.
    assert found[ids[3]][:3] == ("sent", 1, 1)
    assert found[ids[4]][0] == "sent"
    assert dict(provider.received) == {key[ids[3]]: 1, key[ids[4]]: 1}
    listed = {m["id"]: m for m in run("messages", "--json").json}
    assert listed[ids[0]]["sent_at"] == "2026-11-23T08:02:00Z"  # the killed tick's time
    second = listed[ids[1]]
    assert second["next_attempt_at"] >= "2026-11-23T08:12:00Z"  # Retry-After from then
    assert second["error"] == "HTTP 503: busy"
    assert report.json["resent"] == 1
    assert not folder.exists()  # nothing is left behind once all is recorded


def test_a_replay_killed_after_it_recorded_records_nothing_twice(
    waiting: Callable[[int], tuple[Run, int, list[dict[str, Any]]]], project: Path
) -> None:
    _, port, messages = waiting(4)
    ids = [m["id"] for m in messages]
    folder = project / "seqctl.db.outcomes"
    journal = killed_mid_send(folder, ids)
    kept = project / "kept.journal"
    shutil.copy(journal.path, kept)
    channels = ChannelSet({"sms": {"kind": "webhook", "url": f"http://127.0.0.1:{port}/"}}, project)
    with open_store(project / "seqctl.db") as store:
        first = replay(store, channels, Versions(store), NOW, folder)
        recorded = states(project)
        # As if killed after recording, before removing the file: the mark says how far.
        folder.mkdir()
        shutil.copy(kept, journal.path)
        again = replay(store, channels, Versions(store), NOW, folder)
    assert (first.sent, first.failed, first.resent) == (1, 1, 0)
    assert (again.sent, again.failed, again.resent) == (0, 0, 0)
    assert states(project) == recorded
    assert recorded[ids[3]][0] == "sending"  # in flight: the tick's recovery sends it again
    assert not folder.exists()


def test_a_half_written_last_line_is_left_out(
    waiting: Callable[[int], tuple[Run, int, list[dict[str, Any]]]], project: Path
) -> None:
    run, port, messages = waiting(2)
    first, second = (m["id"] for m in messages)
    journal = Journal(project / "seqctl.db.outcomes", mark_name("main", "sms"), KILLED_AT)
    journal.append([first], [])
    journal.append([second], [Delivery(first, provider_id="gw-1")])
    journal.close(keep=True)
    with journal.path.open("a") as torn:  # a power cut as the next line was written
        torn.write('{"n":3,"started":[],"done":[[')
    with http_server(Provider(), port=port):
        assert run("--now=2026-11-23T08:05:00Z", "tick").exit_code == 0
    found = states(project)
    assert found[first] == ("sent", 1, 0, "gw-1")
    assert found[second][:3] == ("sent", 1, 1)


def test_a_journal_that_cannot_be_read_stops_the_tick_before_it_sends(
    waiting: Callable[[int], tuple[Run, int, list[dict[str, Any]]]], project: Path
) -> None:
    run, port, _ = waiting(2)
    folder = project / "seqctl.db.outcomes"
    folder.mkdir()
    (folder / "0123.journal").write_bytes(b"\x00\x01 not a journal")
    provider = Provider()
    with http_server(provider, port=port):
        result = run("--now=2026-11-23T08:05:00Z", "tick")
    assert result.exit_code != 0
    assert "0123.journal: this journal of outcomes cannot be read" in result.stderr
    assert "Traceback" not in result.stderr
    assert provider.requests == 0
    assert {m["status"] for m in run("messages", "--json").json} == {"queued"}


@pytest.mark.parametrize("left", ["", '{"journal": "01', '{"journal": "0123", "mark": "journal:m'])
def test_a_journal_killed_before_its_first_line_was_whole_holds_nothing_and_goes(
    waiting: Callable[[int], tuple[Run, int, list[dict[str, Any]]]], project: Path, left: str
) -> None:
    run, port, _ = waiting(2)
    folder = project / "seqctl.db.outcomes"
    folder.mkdir()
    (folder / "0123.journal").write_text(left)  # the header and first report go in one write
    provider = Provider()
    with http_server(provider, port=port):
        result = run("--now=2026-11-23T08:05:00Z", "tick")
    assert (result.exit_code, result.stderr) == (0, "")
    assert len(provider.received) == 2
    assert not folder.exists()


def test_a_journal_that_cannot_be_removed_is_named(
    waiting: Callable[[int], tuple[Run, int, list[dict[str, Any]]]],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run, port, messages = waiting(4)
    folder = project / "seqctl.db.outcomes"
    journal = killed_mid_send(folder, [m["id"] for m in messages])

    def refused(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patched, http_server(Provider(), port=port):
        patched.setattr(Path, "unlink", refused)
        result = run("--now=2026-11-23T08:05:00Z", "tick")
    assert result.exit_code != 0
    assert f"{journal.path}: cannot remove this journal of outcomes (Permission denied)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    # What it held is recorded: the next tick only removes it.
    with http_server(Provider(), port=port):
        assert run("--now=2026-11-23T08:06:00Z", "tick").exit_code == 0
    assert states(project)[messages[0]["id"]] == ("sent", 1, 0, "gw-1")
    assert not folder.exists()


def test_shards_removing_an_empty_folder_meanwhile_do_not_stop_a_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "seqctl.db.outcomes"
    journal = Journal(folder, mark_name("shard0", "sms"), KILLED_AT)
    real_mkdir = Path.mkdir
    removed: list[Path] = []

    def mkdir_then_removed(self: Path, *args: Any, **kwargs: Any) -> None:
        real_mkdir(self, *args, **kwargs)
        if not removed:  # another shard, done, removes the empty folder at once
            removed.append(self)
            self.rmdir()

    monkeypatch.setattr(Path, "mkdir", mkdir_then_removed)
    assert journal.append([1], []) == 1
    assert journal.path.read_text().splitlines()[1] == '{"n":1,"started":[1],"done":[]}'
    journal.close(keep=False)
    assert not folder.exists()
