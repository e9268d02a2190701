"""The delivery benchmark runs end to end at a tiny count against its servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.bench_scripts import run_bench

pytest.importorskip("aiosmtpd")

COUNT = 30
STAGES = (
    "smtp-tick",
    "smtp-channel",
    "smtplib-threads",
    "smtplib-loop",
    "aiosmtplib",
    "webhook-tick",
    "webhook-channel",
    "httpclient-threads",
    "httpclient-loop",
    "aiohttp",
)
BASELINES = {
    "smtp-tick": "aiosmtplib",
    "smtp-channel": "aiosmtplib",
    "smtplib-threads": "aiosmtplib",
    "smtplib-loop": "aiosmtplib",
    "webhook-tick": "aiohttp",
    "webhook-channel": "aiohttp",
    "httpclient-threads": "aiohttp",
    "httpclient-loop": "aiohttp",
}


def test_delivery_bench_reports_every_measurement_with_its_baseline() -> None:
    lines, log = run_bench("delivery.py", "--count", str(COUNT), "--latency-ms", "0,2", timeout=180)
    assert [line["stage"] for line in lines] == list(STAGES) * 2
    assert [line["server_latency_ms"] for line in lines] == [0] * 10 + [2] * 10
    by_stage = {line["stage"]: line for line in lines[10:]}
    assert all(line["per_second"] > 0 for line in lines)
    assert by_stage["smtplib-loop"]["items"] == 10  # one plain session: a share of the sends
    assert all(line["items"] == COUNT for line in lines if "loop" not in line["stage"])
    for stage, baseline in BASELINES.items():
        assert by_stage[stage]["baseline"] == baseline
        assert by_stage[stage]["ratio"] > 0
    assert by_stage["aiosmtplib"]["ratio"] is None
    # As many connections as the concurrent senders (8 and 32 at most), kept for all batches.
    assert 1 <= by_stage["smtp-channel"]["connections"] <= 8
    assert 1 <= by_stage["smtp-tick"]["connections"] <= 8
    assert by_stage["aiosmtplib"]["connections"] == 8
    assert 1 <= by_stage["webhook-tick"]["connections"] <= 32
    assert by_stage["httpclient-loop"]["connections"] == 1
    assert by_stage["smtp-tick"]["peak_rss_mb"] > 0
    assert f"| 2 | smtp-tick | end-to-end | {COUNT} |" in log
