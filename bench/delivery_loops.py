"""The in-process sends of the delivery benchmark: seqctl's channels, and plain stdlib loops.

Each function sends the same emails to a sink on 127.0.0.1 and returns the seconds it took
(perf_counter, from the first connection to the last reply). Building each MIME message or JSON
body is inside the timing on both sides, as it is in a tick.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import tempfile
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from measure import BenchFailure
from workload import contacts

from seqctl.channels import ChannelSet, Delivery, Outgoing, send_all

HOST = "127.0.0.1"
BATCH = 1000  # messages a `channel.send`, as the tick hands them over
SENDER = "Ana <ana@acme.test>"
SENT_AT = "2026-11-23T12:01:00Z"
SUBJECT = "A quick question, {first}"
BODY = """\
Hi {first},

I help teams like {company} keep their follow-ups on time.
Would a 20-minute call next week be useful?

Ana
"""


def emails(count: int) -> list[Outgoing]:
    """count emails to the benchmark's contacts, as the engine hands them to a channel."""
    messages = []
    for number, person in enumerate(contacts(count), start=1):
        first = person.first_name or "there"
        messages.append(
            Outgoing(
                id=number,
                idempotency_key=f"{number}:1:hello",
                sequence="bench-delivery",
                version=1,
                step="hello",
                contact=person.key,
                channel="email",
                to=person.email,
                subject=SUBJECT.format(first=first),
                body=BODY.format(first=first, company=person.company),
                sent_at=SENT_AT,
                extra={"from": {"name": "Ana", "email": "ana@acme.test"}},
            )
        )
    return messages


def channel_send(spec: Mapping[str, Any], messages: Sequence[Outgoing]) -> float:
    """seqctl's channel for `email`, built from this config as a tick builds it, in batches."""
    with tempfile.TemporaryDirectory(prefix="seqctl-delivery-") as folder:
        channels = ChannelSet({"email": dict(spec)}, Path(folder) / "outbox.jsonl")
        try:
            channel = channels.for_type("email")
            deliveries: list[Delivery] = []
            start = time.perf_counter()
            for first in range(0, len(messages), BATCH):
                deliveries.extend(send_all(channel, messages[first : first + BATCH]))
            seconds = time.perf_counter() - start
        finally:
            channels.close()
    failed = [d for d in deliveries if not d.ok]
    if len(deliveries) != len(messages) or failed:
        why = failed[0].error if failed else f"{len(deliveries)} deliveries"
        raise BenchFailure(
            f"{spec['kind']} channel: {len(failed)} of {len(messages)} failed; first: {why}"
        )
    return seconds


def smtplib_loop(port: int, messages: Sequence[Outgoing]) -> float:
    """A plain `smtplib.SMTP` session: one EmailMessage (From, To, Subject, body) each."""
    start = time.perf_counter()
    with smtplib.SMTP(HOST, port, local_hostname="bench.localhost", timeout=30) as smtp:
        for m in messages:
            message = EmailMessage()
            message["From"] = SENDER
            message["To"] = m.to
            message["Subject"] = m.subject
            message.set_content(m.body or "")
            refused = smtp.send_message(message)
            if refused:
                raise BenchFailure(f"smtplib loop: the sink refused {refused}")
    return time.perf_counter() - start


def httpclient_loop(port: int, messages: Sequence[Outgoing]) -> float:
    """A plain `http.client` keep-alive connection: one JSON POST after another."""
    bodies = [fields(m) for m in messages]  # the same JSON fields the webhook channel sends
    start = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        for m, values in zip(messages, bodies, strict=True):
            body = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", "Idempotency-Key": m.idempotency_key}
            connection.request("POST", "/hook", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise BenchFailure(f"http.client loop: the sink answered {response.status}")
    finally:
        connection.close()
    return time.perf_counter() - start


def fields(m: Outgoing) -> dict[str, Any]:
    return {
        "id": m.id,
        "idempotency_key": m.idempotency_key,
        "sequence": m.sequence,
        "version": m.version,
        "step": m.step,
        "contact": m.contact,
        "channel": m.channel,
        "to": m.to,
        "subject": m.subject,
        "body": m.body,
        "sent_at": m.sent_at,
        **m.extra,
    }
