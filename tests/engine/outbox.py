"""The file outbox of a test project: what was written to it, and channels standing in for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqctl.channels import ChannelSet, FileChannel


def outbox(project: Path) -> list[dict[str, Any]]:
    """The messages the file channel wrote, in order (none when nothing was sent)."""
    path = project / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def channels_with(project: Path, channel: type[FileChannel]) -> ChannelSet:
    """The project's channels with `channel` writing the outbox in place of the file channel."""
    channels = ChannelSet({}, project / "outbox.jsonl")
    channels._open["default"] = channel(project / "outbox.jsonl")
    return channels
