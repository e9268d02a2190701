"""The delivery benchmark runs end to end at a tiny count against its servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.bench_scripts import run_bench

pytest.importorskip("aiosmtpd")

COUNT = 30
STAGES = (
    "smtp-tick",
    "smtp-channel",
    "smtplib-loop",
    "webhook-tick",
    "webhook-channel",
    "httpclient-loop",
)
BASELINES = {
    "smtp-tick": "smtplib-loop",
    "smtp-channel": "smtplib-loop",
    "webhook-tick": "httpclient-loop",
    "webhook-channel": "httpclient-loop",
}


def test_delivery_bench_reports_every_measurement_with_its_baseline() -> None:
    lines, log = run_bench("delivery.py", "--count", str(COUNT), timeout=120)
    by_stage = {line["stage"]: line for line in lines}

    assert [line["stage"] for line in lines] == list(STAGES)
    assert all(line["items"] == COUNT and line["per_second"] > 0 for line in lines)
    for stage, baseline in BASELINES.items():
        assert by_stage[stage]["baseline"] == baseline
        assert by_stage[stage]["ratio"] > 0
    assert by_stage["smtplib-loop"]["ratio"] is None
    # The channel's connections (4 by default) kept for all its batches; one for the loop.
    assert 1 <= by_stage["smtp-channel"]["connections"] <= 4
    assert 1 <= by_stage["smtp-tick"]["connections"] <= 4
    assert by_stage["httpclient-loop"]["connections"] == 1
    assert by_stage["smtp-tick"]["peak_rss_mb"] > 0
    assert f"| smtp-tick | end-to-end | {COUNT} |" in log
