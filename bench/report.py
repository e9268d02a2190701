"""Stage results: one JSON line each on stdout, a markdown table with the targets on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

MEMORY_TARGET_MB = 200.0


@dataclass(frozen=True)
class Result:
    """One measured stage at one dataset size."""

    stage: str
    size: int
    items: int
    seconds: float | None
    peak_rss_mb: float | None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def per_second(self) -> float | None:
        if not self.seconds:
            return None
        return self.items / self.seconds

    def as_json(self) -> dict[str, object]:
        """The stable line shape: stage, size, items, seconds, per_second, peak_rss_mb (+ extra)."""
        return {
            "stage": self.stage,
            "size": self.size,
            "items": self.items,
            "seconds": _round(self.seconds, 3),
            "per_second": _round(self.per_second, 1),
            "peak_rss_mb": _round(self.peak_rss_mb, 1),
            **self.extra,
        }


@dataclass(frozen=True)
class Target:
    """A goal from the issues, whether a result meets it, and the figure it was judged on."""

    text: str
    met: Callable[[Result], bool]
    detail: Callable[[Result], str] | None = None


def _rate(minimum: float) -> Target:
    return Target(f">= {minimum:,.0f}/s", lambda r: (r.per_second or 0) >= minimum)


def _rate_and_floor(minimum: float, share: float) -> Target:
    """A rate, and a share of what the floor (bench/floor.py) does on the same data."""

    def met(result: Result) -> bool:
        ratio = result.extra.get("floor_ratio")
        return (result.per_second or 0) >= minimum and isinstance(ratio, float) and ratio >= share

    def detail(result: Result) -> str:
        ratio = result.extra.get("floor_ratio")
        return f"{ratio:.2f} of floor" if isinstance(ratio, float) else "no floor"

    return Target(f">= {minimum:,.0f}/s and >= {share} floor", met, detail)


TARGETS: dict[str, Target] = {
    "lint-1000": Target("< 2 s", lambda r: r.seconds is not None and r.seconds < 2),
    "import-csv": _rate(50_000),
    "import-jsonl": _rate(50_000),
    "enroll": _rate(100_000),
    "enroll-approve": _rate(100_000),
    "tick-due": _rate_and_floor(30_000, 0.6),
    "tick-approvals": _rate(20_000),
}


def emit(result: Result, out: TextIO) -> None:
    """Print one result as a JSON line, at once (a long run shows progress)."""
    out.write(json.dumps(result.as_json()) + "\n")
    out.flush()


def markdown_table(results: list[Result]) -> str:
    """Every result with its target verdict, and its peak memory judged against 200 MB."""
    lines = [
        "| stage | size | items | seconds | per second | peak RSS MB | target | verdict "
        f"| RSS < {MEMORY_TARGET_MB:.0f} MB |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    lines.extend(_row(result) for result in results)
    return "\n".join(lines) + "\n"


def _row(result: Result) -> str:
    target = TARGETS.get(result.stage)
    cells = (
        result.stage,
        f"{result.size:,}",
        f"{result.items:,}",
        _fixed(result.seconds, 3),
        _fixed(result.per_second, 0, grouped=True),
        _fixed(result.peak_rss_mb, 1),
        target.text if target is not None else "",
        _verdict(result, target),
        _memory_verdict(result),
    )
    return "| " + " | ".join(cells) + " |"


def _verdict(result: Result, target: Target | None) -> str:
    if target is None:
        return ""
    verdict = "ok" if target.met(result) else "MISS"
    return f"{verdict} ({target.detail(result)})" if target.detail is not None else verdict


def _memory_verdict(result: Result) -> str:
    """The larger of the process's own peak and, for a command with workers, their sum."""
    if result.peak_rss_mb is None:
        return ""
    together = result.extra.get("processes_peak_mb")
    if not isinstance(together, float):
        return "ok" if result.peak_rss_mb < MEMORY_TARGET_MB else "MISS"
    peak = max(result.peak_rss_mb, together)
    verdict = "ok" if peak < MEMORY_TARGET_MB else "MISS"
    return f"{verdict} ({result.extra.get('processes')} processes: {together:.0f} MB)"


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _fixed(value: float | None, digits: int, grouped: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}" if grouped else f"{value:.{digits}f}"
