"""Attachments at send time: refused again when a version predates the repository rule.

Lint and publish keep attachments inside the playbook repository (playbook/files.py). A version
published before that rule may have copied a file named `/etc/...` or `../../...` into the
database; its message fails with the reason instead of carrying the file. Checked when a step
renders (the enrollment fails) and again when a queued message goes out (one made before the
upgrade, or waiting for approval meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from seqctl.channels import Channel, Delivery, Outgoing, Progress
from seqctl.playbook.files import stored_attachment_problem
from seqctl.playbook.model import MAX_ATTACHMENTS_TOTAL


def refused(extra: Mapping[str, Any]) -> str | None:
    """Why a message's attachments must not be sent, or None (also for no attachments)."""
    listed = extra.get("attachments") or ()
    for item in listed:
        problem = stored_attachment_problem(item)
        if problem is not None:
            return problem
    total = sum(item.get("size") or 0 for item in listed)
    if total > MAX_ATTACHMENTS_TOTAL:  # one file listed a hundred times, say
        return (
            f"the attachments come to {total / 1024 / 1024:.1f} MB: at most "
            f"{MAX_ATTACHMENTS_TOTAL // 1024 // 1024} MB a message"
        )
    return None


def send_checked(
    channel: Channel, outgoing: Sequence[Outgoing], halt: Callable[[], bool] | None = None
) -> Iterator[Progress]:
    """channel.send, except that a message with a refused attachment fails without being sent
    (reported first, as done, and never handed to the channel)."""
    allowed, failed = split_refused(outgoing)
    if failed:
        yield Progress(done=failed)
    if allowed:
        yield from channel.send(allowed, halt)


def split_refused(outgoing: Sequence[Outgoing]) -> tuple[list[Outgoing], list[Delivery]]:
    """The messages that may go, and the failures of those whose attachments are refused."""
    allowed: list[Outgoing] = []
    failed: list[Delivery] = []
    for message in outgoing:
        problem = refused(message.extra)
        if problem:
            failed.append(Delivery(message.id, error=problem))
        else:
            allowed.append(message)
    return allowed, failed
