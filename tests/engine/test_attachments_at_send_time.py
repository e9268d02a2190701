"""A version published before attachments were kept inside the repository: the tick refuses.

An older seqctl copied any file an `attachments:` entry named into the database (by SHA-256,
with its name) and put it in the version. The database here is written the way it did, through
the store: a new version whose attachment is `/etc/...` or `../../...` and whose bytes are a
secret. The tick fails that message with the reason and sends the other sequence's mail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seqctl.engine.outbox.attachments import refused
from seqctl.playbook.files import stored_attachment_problem
from seqctl.playbook.model import digest_of
from seqctl.store import VersionRecord, open_store
from seqctl.timeutil import parse_instant
from tests.channels.test_smtp import Mailbox, Server, _serve
from tests.conftest import Launch, Run
from tests.playbooks import auto_playbook

SECRET = b"AWS_SECRET_ACCESS_KEY=never-mail-me\n"
NOW = "--now=2026-11-23T08:00:00Z"


def mail(sequence: str, settings: str = "") -> str:
    return auto_playbook(
        sequence,
        """
  - id: hello
    type: email
    subject: Hello
    body: Hi there.
    attachments: [guide.pdf]
""",
        settings=settings,
    )


@pytest.fixture
def smtp() -> Iterator[Server]:
    yield from _serve(Mailbox())


def publish_as_an_older_seqctl(project: Path, sequence: str, name: str) -> None:
    """Version 2 of `sequence`, its attachment renamed to `name` with SECRET's bytes, stored as
    publish did before the repository rule: the definition names it, the bytes are kept."""
    store = open_store(project / "seqctl.db")
    try:
        current = store.version(sequence)
        assert current is not None
        definition = current.definition
        digest = hashlib.sha256(SECRET).hexdigest()
        definition["steps"][0]["attachments"] = [
            {"name": name, "size": len(SECRET), "sha256": digest}
        ]
        with store.transaction():
            store.add_attachment(digest, name, SECRET)
            store.add_version(
                VersionRecord(
                    sequence,
                    2,
                    digest_of(definition),
                    json.dumps(definition, sort_keys=True),
                    "playbooks/leak.yaml",
                    parse_instant("2026-11-20T08:00:00Z"),
                    "mallory",
                    None,
                )
            )
    finally:
        store.close()


def setup(
    launch: Launch, write: Callable[[str, str], Path], project: Path, smtp: Server, name: str
) -> Run:
    (project / "playbooks" / "guide.pdf").write_bytes(b"%PDF-1.4 guide")
    write(
        "seqctl.yaml",
        f"channels:\n  email: {{kind: smtp, host: 127.0.0.1, port: {smtp.port}, security: none,"
        " from: ana@acme.test}\n",
    )
    run = launch(
        {"welcome": mail("welcome"), "leak": mail("leak")},
        "key,email\nana,ana@example.com\nbob,bob@example.com\n",
    )
    publish_as_an_older_seqctl(project, "leak", name)
    assert run(NOW, "enroll", "welcome", "--contact", "ana", "--contact", "bob").exit_code == 0
    assert run(NOW, "enroll", "leak", "--contact", "ana", "--contact", "bob").exit_code == 0
    return run


@pytest.mark.parametrize("name", ["/etc/seqctl/secrets.env", "../../.env", "..\\..\\.env"])
def test_the_old_version_fails_its_messages_and_the_others_go_out(
    launch: Launch,
    write: Callable[[str, str], Path],
    project: Path,
    smtp: Server,
    name: str,
) -> None:
    run = setup(launch, write, project, smtp, name)
    report = run(NOW, "tick", "--json").json
    assert (report["sent"], report["failed"]) == (2, 2)
    received = smtp.mailbox.received
    assert sorted(r.recipients[0] for r in received) == ["ana@example.com", "bob@example.com"]
    assert all(SECRET not in r.message.as_bytes() for r in received)
    failed = run("enrollments", "leak", "--json").json
    assert {e["state"] for e in failed} == {"failed"}
    assert all(
        f"attachment '{name}' was published by a seqctl that did not check" in e["reason"]
        for e in failed
    )


def test_a_message_queued_before_the_upgrade_fails_when_it_would_go_out(
    launch: Launch,
    write: Callable[[str, str], Path],
    project: Path,
    smtp: Server,
) -> None:
    run = setup(launch, write, project, smtp, "/etc/seqctl/secrets.env")
    # An older seqctl rendered the step without a check and the SMTP server was down: the
    # messages wait in the outbox, naming the attachment.
    settings = (project / "seqctl.yaml").read_text()
    write("seqctl.yaml", settings.replace(f"port: {smtp.port}", "port: 9"))
    with pytest.MonkeyPatch.context() as older:
        older.setattr("seqctl.engine.outbox.attachments.refused", lambda extra: None)
        assert run(NOW, "tick", "--json").json["sent"] == 0
    assert {m["status"] for m in run("messages", "--json").json} == {"queued"}
    write("seqctl.yaml", settings)
    report = run("--now=2026-11-23T12:00:00Z", "tick", "--json").json
    assert (report["sent"], report["failed"]) == (2, 2)
    assert all(SECRET not in r.message.as_bytes() for r in smtp.mailbox.received)
    messages = run("messages", "--status", "failed", "--json").json
    assert {m["sequence"] for m in messages} == {"leak"}
    assert all("did not check" in m["error"] for m in messages)


@pytest.mark.parametrize(
    ("item", "refused"),
    [
        ({"name": "guide.pdf"}, False),
        ({"name": "docs/guide.pdf"}, False),
        ({"name": "/etc/passwd"}, True),
        ({"name": "C:\\secret.txt"}, True),
        ({"name": "\\\\server\\share\\x"}, True),
        ({"name": "../brochures/price.pdf"}, True),  # an old version: no path recorded
        ({"name": "../brochures/price.pdf", "path": "brochures/price.pdf"}, False),
        ({"name": "../x.pdf", "path": "../x.pdf"}, True),
        ({"name": "../x.pdf", "path": "/x.pdf"}, True),
    ],
)
def test_which_stored_names_are_sent(item: dict[str, str], refused: bool) -> None:
    assert (stored_attachment_problem(item) is not None) is refused


def test_an_old_version_listing_one_file_a_hundred_times_is_not_sent() -> None:
    one = {"name": "big.pdf", "size": 3 * 1024 * 1024, "sha256": "ab"}
    assert refused({"attachments": [one] * 3}) is None
    assert "come to 300.0 MB: at most 20 MB a message" in str(refused({"attachments": [one] * 100}))
