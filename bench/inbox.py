"""The `inbox-sync` stage: `seqctl inbox sync` reading 10,000 new messages from a real Dovecot.

The mail answers what the bench really sent (bench-auto's first email): replies quoting its
Message-ID, out-of-office replies in four languages, Postfix bounces returning its headers, and
mail that is nobody's (strangers, newsletters), in the shares below. Dovecot indexes the folder
before the measure, as it does when a mail server delivers: the figure is seqctl's reading.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import dovecot
from checks import json_object, require
from measure import Run, run_measured
from report import Result
from workspace import Bench, measured

MESSAGES = 10_000
SEED = 20261125
REPLY, OUT_OF_OFFICE, BOUNCE, NEWSLETTER = 0.30, 0.10, 0.05, 0.10  # the rest: strangers
SYNC_AT = "2026-11-24T21:00:00Z"  # after the mail below, which comes in on the evening of TICK_AT
_OUT_OF_OFFICE = (
    ("Out of office", "I am out of the office and back on 7 December. For urgent matters call"
     " the front desk."),
    ("Abwesenheitsnotiz", "Ich bin bis einschließlich 04.12. nicht im Büro und ab dem 7. Dezember"
     " wieder erreichbar."),
    ("Resposta automática", "Estou de férias e estarei de volta em 07/12."),
    ("Respuesta automática", "Estoy fuera de la oficina hasta el 4 de diciembre."),
)  # fmt: skip


def inbox_sync(bench: Bench) -> Result | None:
    """Sync 10,000 new messages (fewer for a smaller dataset); None when Dovecot is missing."""
    reason = dovecot.unavailable()
    if reason is not None:
        sys.stderr.write(f"inbox-sync: skipped: {reason}\n")
        return None
    count = min(MESSAGES, bench.size)
    server = dovecot.start()
    try:
        account = server.account()
        expected = _write_mail(account, _sent(bench.db), count)
        server.doveadm("index", "-u", account.user, "INBOX")
        config = _config(bench, server.port)
        env = {"BENCH_IMAP_USER": account.user, "BENCH_IMAP_PASSWORD": account.password}
        os.environ.update(env)  # the measured command's environment is this one's
        try:
            run = _sync(bench, config)
            report = json_object("inbox-sync", run)
            got = {kind: report["events"][kind] for kind in ("reply", "out_of_office", "bounce")}
            got.update(unmatched=report["unmatched"], ignored=report["ignored"])
            require(report["read"] == count, "inbox-sync", run, f"read {report['read']} of {count}")
            require(got == expected, "inbox-sync", run, f"expected {expected}, got {got}")
            require(not report["errors"] and not report["skipped"], "inbox-sync", run, "problems")
            idle = _sync(bench, config)
            require(json_object("inbox-sync", idle)["read"] == 0, "inbox-sync", idle, "read again")
        finally:
            for name in env:
                os.environ.pop(name, None)
    finally:
        server.stop()
    return measured(
        "inbox-sync",
        bench,
        count,
        run,
        events=sum(report["events"].values()),
        exited=report["exited"],
        paused=report["paused"],
        idle_seconds=round(idle.seconds, 3),
    )


def _sync(bench: Bench, config: Path) -> Run:
    argv = [*bench.command, "--db", str(bench.db), "--now", SYNC_AT, "--config", str(config)]
    return run_measured([*argv, "inbox", "sync", "--json"], bench.project)


def _config(bench: Bench, port: int) -> Path:
    """seqctl.yaml with the inbox (a copy: the other stages' configuration stays as it was)."""
    path = bench.project / "inbox.yaml"
    original = (bench.project / "seqctl.yaml").read_text(encoding="utf-8")
    inbox = (
        f"  ana: {{host: 127.0.0.1, port: {port}, security: none,"
        " username_env: BENCH_IMAP_USER, password_env: BENCH_IMAP_PASSWORD}\n"
    )
    path.write_text(f"{original}\ninboxes:\n{inbox}", encoding="utf-8")
    return path


def _sent(db: Path) -> list[tuple[str, str, str, str]]:
    """(idempotency key, sequence, contact, address) of the first emails bench-auto sent."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, sequence, contact, to_address FROM messages"
            " WHERE sequence = 'bench-auto' AND step = 'hello' AND status = 'sent' ORDER BY id"
        )
        return [(str(k), str(s), str(c), str(a)) for k, s, c, a in rows]


def _write_mail(
    account: dovecot.Account, sent: list[tuple[str, str, str, str]], count: int
) -> dict[str, int]:
    """The mail, delivered into the account's INBOX; what a sync of it must find."""
    from seqctl.channels.smtp import message_id_local  # the Message-ID the channel puts on mail

    rng = random.Random(SEED)
    people = iter(rng.sample(sent, len(sent)))
    counts: Counter[str] = Counter()
    mail: list[bytes] = []
    for number in range(count):
        draw = rng.random()
        minute = number % 420
        date = f"Tue, 24 Nov 2026 {13 + minute // 60:02d}:{minute % 60:02d}:00 +0000"
        person = next(people, None) if draw < REPLY + OUT_OF_OFFICE + BOUNCE else None
        if person is not None:
            key, sequence, contact, address = person
            sent_id = f"<{message_id_local(key, sequence, contact)}@acme.test>"
        if person is not None and draw < REPLY:
            counts["reply"] += 1
            mail.append(_reply(address, sent_id, date, number))
        elif person is not None and draw < REPLY + OUT_OF_OFFICE:
            counts["out_of_office"] += 1
            subject, text = _OUT_OF_OFFICE[number % len(_OUT_OF_OFFICE)]
            mail.append(_auto_reply(address, sent_id, subject, text, date, number))
        elif person is not None:
            counts["bounce"] += 1
            mail.append(_bounce(address, sent_id, key, date, number, hard=number % 5 != 0))
        elif draw < REPLY + OUT_OF_OFFICE + BOUNCE + NEWSLETTER:
            counts["ignored"] += 1
            mail.append(_newsletter(date, number))
        else:
            counts["unmatched"] += 1
            mail.append(_stranger(date, number))
    account.deliver_many(mail)
    return {k: counts[k] for k in ("reply", "out_of_office", "bounce", "unmatched", "ignored")}


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


def _reply(address: str, sent_id: str, date: str, number: int) -> bytes:
    lines = ("Hi,", "", "We renovate kitchens in your area.", "Would a call next week suit you?")
    quoted = "\n".join(f"> {line}" for line in (*lines, "", "Ana"))
    return _crlf(
        f"From: <{address}>\nTo: Ana <ana@acme.test>\nSubject: Re: Hello\nDate: {date}\n"
        f"Message-ID: <reply-{number}@mail.example.com>\nIn-Reply-To: {sent_id}\n"
        f"References: {sent_id}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
        f"Thanks Ana, next Tuesday works for me.\n\nOn Tue, Nov 24, 2026, Ana wrote:\n{quoted}\n"
    )


def _auto_reply(address: str, sent_id: str, subject: str, text: str, date: str, n: int) -> bytes:
    return _crlf(
        f"From: <{address}>\nTo: Ana <ana@acme.test>\nSubject: {subject}: Hello\nDate: {date}\n"
        f"Message-ID: <auto-{n}@mail.example.com>\nIn-Reply-To: {sent_id}\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{text}\n"
    )


def _bounce(address: str, sent_id: str, key: str, date: str, n: int, *, hard: bool) -> bytes:
    status, action = ("5.1.1", "failed") if hard else ("4.2.2", "delayed")
    return _crlf(
        f"From: MAILER-DAEMON@mx1.acme.test (Mail Delivery System)\nTo: ana@acme.test\n"
        f"Subject: Undelivered Mail Returned to Sender\nDate: {date}\n"
        f"Message-Id: <bounce-{n}@mx1.acme.test>\nAuto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;"
        ' boundary="b"\n\n--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n'
        "\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx1.acme.test\n\n"
        f"Final-Recipient: rfc822; {address}\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; 550 {status} <{address}>: User unknown\n\n"
        "--b\nContent-Type: text/rfc822-headers\n\nFrom: Ana <ana@acme.test>\n"
        f"To: {address}\nSubject: Hello\nMessage-ID: {sent_id}\n"
        f"X-Seqctl-Idempotency-Key: {key}\n\n--b--\n"
    )


def _newsletter(date: str, n: int) -> bytes:
    return _crlf(
        f"From: News <news@supplier{n % 7}.example>\nTo: ana@acme.test\nSubject: Offers\n"
        f"Date: {date}\nMessage-ID: <news-{n}@lists.example>\nList-Id: <offers.example>\n"
        "Precedence: bulk\nContent-Type: text/plain; charset=utf-8\n\n"
        + "This week's offers.\n"
        * 40
    )


def _stranger(date: str, n: int) -> bytes:
    body = "Do you also do bathrooms? We are a family of four and the house is from 1962.\n" * 3
    return _crlf(
        f"From: <person{n}@elsewhere.example>\nTo: ana@acme.test\nSubject: A question\n"
        f"Date: {date}\nMessage-ID: <q-{n}@elsewhere.example>\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    )
