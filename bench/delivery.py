"""Benchmark delivery: seqctl's SMTP and webhook channels beside plain and concurrent senders.

    python bench/delivery.py [--count 5000] [--latency-ms 0,5,20,50] [--keep DIR]

A local SMTP server (aiosmtpd) and a local HTTP server, both on 127.0.0.1 in a process of their
own, take every message. One project is made as a user makes it (`seqctl init`, a playbook with
one automatic email and no send window, publish, activate, contacts import, enroll N), then copied
once per protocol and latency with its `email` channel pointed at that sink, with as many
connections as the concurrent senders use (SMTP 8, webhooks 32). The measurements of N sends:
- `smtp-tick` / `webhook-tick`: `seqctl --now T tick --json` in a fresh process; end to end
  (start-up, render, database and send; peak RSS is the tick's own);
- `smtp-channel` / `webhook-channel`: seqctl's channel alone, built from the same config, given
  pre-built messages in batches of 1000 in this process;
- concurrent senders over the same number of connections: `smtplib-threads`,
  `aiosmtplib` (SMTP), `httpclient-threads`, `aiohttp`, `httpx` (webhooks), each when its
  library is installed; the first asyncio one is the baseline of the others (`ratio`);
- `smtplib-loop` / `httpclient-loop`: one plain session, one message after another (on N /
  connections messages: at 50 ms a reply it is slow).

`--latency-ms` makes both servers wait that long before each reply a message waits for (SMTP:
MAIL, RCPT, end of DATA; HTTP: the POST), like a provider far away; several values (0,5,20,50)
run one after another, each against fresh servers.

One JSON line per measurement on stdout; a markdown table on stderr. Every count is checked (the
tick's report and what the server received); one that does not add up exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import delivery_refs as refs
import yaml
from checks import check, json_list, json_object
from delivery_loops import channel_send, emails, httpclient_loop, smtplib_loop
from delivery_sinks import Sinks, running_sinks
from measure import BenchFailure, run_measured, seqctl_command
from workload import contacts, write_csv, write_keys

DEFAULT_COUNT = 5000
SEQUENCE = "bench-delivery"
ENROLL_AT = "2026-11-23T12:00:00Z"
TICK_AT = "2026-11-23T12:01:00Z"  # no send window: every first email is due
PLAYBOOK = f"""\
# Delivery benchmark: one email, sent by the tick as soon as a contact is enrolled.
sequence: {SEQUENCE}
name: Benchmark - delivery
description: One automatic email, no send window.
target: contact
owner: ana@acme.test
timezone: UTC
approval: auto
consent: {{by: ana@acme.test, at: "2026-11-01"}}
sender: {{name: Ana, email: ana@acme.test}}
steps:
  - id: hello
    type: email
    subject: "A quick question, {{{{ contact.first_name | default('there') }}}}"
    body: |
      Hi {{{{ contact.first_name | default('there') }}}},

      I help teams like {{{{ contact.company | default('yours') }}}} keep their follow-ups on time.
      Would a 20-minute call next week be useful?

      {{{{ sender.name | default('The Acme team') }}}}
"""


@dataclass(frozen=True)
class Measurement:
    """N messages sent one way, and what the server saw meanwhile."""

    stage: str
    scope: str  # end-to-end (seqctl tick), channel (its channel alone), concurrent, baseline
    items: int
    seconds: float
    connections: int  # opened to the server, as the server counted them
    peak_rss_mb: float | None = None  # the tick's own process; None when measured in-process

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else math.inf

    def as_json(self, baseline: Measurement | None, latency_ms: float) -> dict[str, object]:
        """The stable line shape; baseline fields are null on the baseline's own line."""
        return {
            "stage": self.stage,
            "scope": self.scope,
            "items": self.items,
            "server_latency_ms": latency_ms,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "connections": self.connections,
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "baseline": baseline.stage if baseline else None,
            "baseline_per_second": round(baseline.per_second, 1) if baseline else None,
            "ratio": round(self.per_second / baseline.per_second, 3) if baseline else None,
        }


Reference = Callable[[int, list[Any], int], float]  # (port, messages, connections) -> seconds


@dataclass(frozen=True)
class Protocol:
    """One way out: the channel config that reaches the sink, and its stages and counters."""

    name: str  # also the project's folder
    tick_stage: str
    channel_stage: str
    loop_stage: str
    messages: str  # the sink counters
    connections: str
    channel: Callable[[Sinks], dict[str, Any]]
    loop: Callable[[int, list[Any]], float]
    port: Callable[[Sinks], int]
    width: int  # connections at once, for seqctl and the concurrent senders alike
    references: tuple[tuple[str, str | None, Reference], ...]  # stage, library needed, sender


SMTP_CONNECTIONS = 8
WEBHOOK_CONNECTIONS = 32

PROTOCOLS = (
    Protocol(
        name="smtp",
        tick_stage="smtp-tick",
        channel_stage="smtp-channel",
        loop_stage="smtplib-loop",
        messages="smtp_messages",
        connections="smtp_connections",
        channel=lambda sinks: {
            "kind": "smtp",
            "host": "127.0.0.1",
            "port": sinks.smtp_port,
            "security": "none",
            "from": "Ana <ana@acme.test>",
            "connections": SMTP_CONNECTIONS,
        },
        loop=smtplib_loop,
        port=lambda sinks: sinks.smtp_port,
        width=SMTP_CONNECTIONS,
        references=(
            ("aiosmtplib", "aiosmtplib", refs.aiosmtplib_connections),
            ("smtplib-threads", None, refs.smtplib_threads),
        ),
    ),
    Protocol(
        name="webhook",
        tick_stage="webhook-tick",
        channel_stage="webhook-channel",
        loop_stage="httpclient-loop",
        messages="http_requests",
        connections="http_connections",
        channel=lambda sinks: {
            "kind": "webhook",
            "url": f"http://127.0.0.1:{sinks.http_port}/hook",
            "connections": WEBHOOK_CONNECTIONS,
        },
        loop=httpclient_loop,
        port=lambda sinks: sinks.http_port,
        width=WEBHOOK_CONNECTIONS,
        references=(
            ("aiohttp", "aiohttp", refs.aiohttp_connections),
            ("httpclient-threads", None, refs.httpclient_threads),
            ("httpx", "httpx", refs.httpx_connections),
        ),
    ),
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count",
        type=int,
        default=DEFAULT_COUNT,
        help=f"messages per measurement (default {DEFAULT_COUNT})",
    )
    parser.add_argument(
        "--latency-ms",
        type=_latencies,
        default=[0.0],
        help="the servers wait this long before each reply a message waits for; a list such"
        " as 0,5,20,50 runs each in turn (default 0)",
    )
    parser.add_argument(
        "--protocols",
        default="smtp,webhook",
        help="which to measure, comma-separated (default smtp,webhook)",
    )
    parser.add_argument(
        "--httpx",
        action="store_true",
        help="also measure httpx (when installed; slow here: about 55 requests a second)",
    )
    parser.add_argument(
        "--keep", type=Path, help="make the projects in DIR and keep them (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count: 1 or more")
    if not all(0 <= latency <= 1000 for latency in args.latency_ms):
        parser.error("--latency-ms: between 0 and 1000")
    args.protocols = [name.strip() for name in args.protocols.split(",") if name.strip()]
    if not args.protocols or set(args.protocols) - {p.name for p in PROTOCOLS}:
        parser.error("--protocols: smtp, webhook or both")
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep: {args.keep} is not empty: a benchmark starts from nothing")
    return args


def _latencies(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def prepare_project(root: Path, count: int) -> Path:
    """`seqctl init`, the playbook published and active, N contacts imported and enrolled."""
    project = root / "project"
    command = seqctl_command()
    check("init", run_measured([*command, "init", str(project)], root))
    (project / "playbooks" / f"{SEQUENCE}.yaml").write_text(PLAYBOOK, encoding="utf-8")

    published = json_list("publish", run_measured([*command, "publish", "--json"], project))
    if not any(entry.get("sequence") == SEQUENCE for entry in published):
        raise BenchFailure(f"publish: {SEQUENCE} was not published: {published}")
    check("activate", run_measured([*command, "activate", SEQUENCE], project))

    csv_file = str(root / "contacts.csv")
    args = [*command, "--now", ENROLL_AT, "contacts", "import", csv_file, "--json"]
    imported = json_object("contacts import", run_measured(args, project))
    _expect("contacts import", imported, {"imported": count, "refused": []})

    args = [*command, "--now", ENROLL_AT, "enroll", SEQUENCE, "--file", str(root / "keys.txt")]
    enrolled = json_object("enroll", run_measured([*args, "--json"], project))
    _expect("enroll", enrolled, {"enrolled": count, "already": 0, "refused": []})
    return project


def project_for(base: Path, protocol: Protocol, sinks: Sinks, latency_ms: float) -> Path:
    """A copy of the prepared project (no seqctl process has it open) sending email this way."""
    project = base.parent / f"{protocol.name}-{latency_ms:g}ms"
    shutil.copytree(base, project)
    configure(project / "seqctl.yaml", protocol.channel(sinks))
    return project


def configure(path: Path, channel: dict[str, Any]) -> None:
    """Point the `email` channel of the scaffolded seqctl.yaml at the sink."""
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    config.setdefault("channels", {})["email"] = channel
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def measure_tick(project: Path, protocol: Protocol, sinks: Sinks, count: int) -> Measurement:
    """`seqctl --now T tick --json` in a fresh process: it must send all N, the sink get all N."""
    before = sinks.stats()
    run = run_measured([*seqctl_command(), "--now", TICK_AT, "tick", "--json"], project)
    seen = _delta(before, sinks.stats())
    report = json_object(protocol.tick_stage, run)
    _expect(protocol.tick_stage, report, {"sent": count, "failed": 0, "deferred": 0})
    _received(protocol.tick_stage, seen[protocol.messages], count)
    return Measurement(
        protocol.tick_stage,
        "end-to-end",
        count,
        run.seconds,
        seen[protocol.connections],
        run.peak_rss_mb,
    )


def measure_channel(protocol: Protocol, sinks: Sinks, messages: list[Any]) -> Measurement:
    """seqctl's channel alone: N pre-built messages through `channel.send`, 1000 at a time."""
    before = sinks.stats()
    seconds = channel_send(protocol.channel(sinks), messages)
    seen = _delta(before, sinks.stats())
    _received(protocol.channel_stage, seen[protocol.messages], len(messages))
    stage = protocol.channel_stage
    return Measurement(stage, "channel", len(messages), seconds, seen[protocol.connections])


def measure_loop(protocol: Protocol, sinks: Sinks, messages: list[Any]) -> Measurement:
    """The plain stdlib loop doing the same sends on one connection (1/width of them)."""
    messages = messages[: max(10, len(messages) // protocol.width)]
    before = sinks.stats()
    seconds = protocol.loop(protocol.port(sinks), messages)
    seen = _delta(before, sinks.stats())
    _received(protocol.loop_stage, seen[protocol.messages], len(messages))
    stage = protocol.loop_stage
    return Measurement(stage, "baseline", len(messages), seconds, seen[protocol.connections])


def measure_reference(
    protocol: Protocol, stage: str, send: Reference, sinks: Sinks, messages: list[Any]
) -> Measurement:
    """A concurrent sender over as many connections as seqctl's channel has."""
    before = sinks.stats()
    seconds = send(protocol.port(sinks), messages, protocol.width)
    seen = _delta(before, sinks.stats())
    _received(stage, seen[protocol.messages], len(messages))
    return Measurement(stage, "concurrent", len(messages), seconds, seen[protocol.connections])


def run_protocol(
    base: Path,
    protocol: Protocol,
    sinks: Sinks,
    count: int,
    messages: list[Any],
    latency_ms: float,
    skipped: set[str],
) -> list[tuple[Measurement, Measurement | None]]:
    """The measurements of one protocol, each with the concurrent sender it is compared to."""
    project = project_for(base, protocol, sinks, latency_ms)
    found = [
        measure_reference(protocol, stage, send, sinks, messages)
        for stage, library, send in protocol.references
        if library is None or (library not in skipped and refs.installed(library))
    ]
    reference = found[0]
    loop = measure_loop(protocol, sinks, messages)
    channel = measure_channel(protocol, sinks, messages)
    tick = measure_tick(project, protocol, sinks, count)
    return [
        (tick, reference),
        (channel, reference),
        *[(other, reference) for other in found[1:]],
        (loop, reference),
        (reference, None),
    ]


def run_all(root: Path, args: argparse.Namespace, out: list[dict[str, object]]) -> None:
    """Both protocols against a pair of sinks per latency; each line printed once known."""
    count = args.count
    write_csv(root / "contacts.csv", contacts(count))
    write_keys(root / "keys.txt", contacts(count))
    base = prepare_project(root, count)
    messages = emails(count)
    skipped = set() if args.httpx else {"httpx"}
    for latency_ms in args.latency_ms:
        with running_sinks(latency_ms) as sinks:
            for protocol in PROTOCOLS:
                if protocol.name not in args.protocols:
                    continue
                for measurement, baseline in run_protocol(
                    base, protocol, sinks, count, messages, latency_ms, skipped
                ):
                    line = measurement.as_json(baseline, latency_ms)
                    out.append(line)
                    sys.stdout.write(json.dumps(line) + "\n")
                    sys.stdout.flush()


def markdown_table(lines: list[dict[str, object]]) -> str:
    """The measurements side by side; `ratio` is messages a second over the baseline's."""
    rows = [
        "| latency ms | stage | scope | messages | seconds | messages/s | connections | vs"
        " | ratio |",
        "|---:|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for line in lines:
        ratio = f"{line['ratio']:.2f}" if line["ratio"] is not None else ""
        rows.append(
            f"| {line['server_latency_ms']:g} | {line['stage']} | {line['scope']} "
            f"| {line['items']:,} | {line['seconds']:.3f} | {line['per_second']:,.0f} "
            f"| {line['connections']:,} | {line['baseline'] or ''} | {ratio} |"
        )
    return "\n".join(rows) + "\n"


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def _received(stage: str, received: int, count: int) -> None:
    if received != count:
        raise BenchFailure(f"{stage}: the server received {received} messages, expected {count}")


def _expect(stage: str, report: Any, expected: dict[str, object]) -> None:
    got = {name: report.get(name) for name in expected} if isinstance(report, dict) else report
    if got != expected:
        raise BenchFailure(f"{stage}: expected {expected}, got {got}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    lines: list[dict[str, object]] = []
    try:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            run_all(args.keep, args, lines)
        else:
            with tempfile.TemporaryDirectory(prefix="seqctl-delivery-") as temp:
                run_all(Path(temp), args, lines)
    except BenchFailure as failure:
        sys.stderr.write(markdown_table(lines) if lines else "")
        sys.stderr.write(f"\ndelivery bench failed: {failure}\n")
        return 1
    sys.stderr.write("\n" + markdown_table(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
