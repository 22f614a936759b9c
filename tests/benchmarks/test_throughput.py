"""The throughput benchmark's --quick mode on the session's broker and Redis.

Nothing about speed is asserted (CI machines vary); what must hold is that every path runs,
reads the whole topic, and that the flow's incidents do not depend on the number of processes.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.throughput import main
from benchmarks.throughput_data import base_city, readings, synthetic_city
from benchmarks.throughput_latency import _judged

pytestmark = pytest.mark.integration

REQUIRED = (
    "limit_rps",
    "kendali_rps",
    "common_rps",
    "examples_rps",
    "kendali_vs_limit",
    "kendali_vs_common",
    "latency_ms",
    "state_bytes_per_detector",
    "workers",
    "identical_across_workers",
    "machine",
)


def test_quick_run_all_paths_agree(stack, tmp_path):
    out = tmp_path / "out"
    argv = ["--out", str(out), "--quick", "--bootstrap", stack.bootstrap, "--latency-seconds", "2"]
    assert main([*argv, "--redis-url", stack.redis_url]) == 0
    result = json.loads((out / "throughput.json").read_text())
    assert set(REQUIRED) <= set(result)
    counts = result["counts"]
    for path in ("A", "A2", "B1", "B2", "B1-replay", "B2-replay", "C"):
        assert counts[path] == counts["produced"], path
    assert counts["D"] > 0
    assert set(result["workers"]) == set(result["workers_replay"]) == {"1", "2"}
    pair = result["paths"]["B1-replay-pair"]["each"]  # two 1-process runs at once, each reads all
    assert [run["processed"] for run in pair] == [counts["produced"]] * 2
    assert isinstance(result["identical_across_workers"], bool)
    assert result["identical_with_corridor_keys"] is True
    assert result["identity"]["corridor"]["incidents"] >= 5
    assert result["latency_ms"]["n"] > 0
    assert set(result["latency_ms"]) >= {"p50", "p95", "p99"}
    latency = result["latency_ms"]  # paced for about 2 s: sustained, not a burst
    assert latency["paced_s"] > 1.0 and latency["planted"] >= latency["n"]
    broker = latency["broker"]  # the same readings to a plain consumer: every stamped one came
    assert broker["n"] == broker["sent"] > 0
    assert "the broker alone" in (out / "throughput.md").read_text()
    assert (out / "throughput.png").read_bytes()[:4] == b"\x89PNG"
    assert "| B Kendali" in (out / "throughput.md").read_text()


def test_readings_are_deterministic_and_plant_incidents():
    city = synthetic_city(base_city(), 50, seed=3)
    first = list(readings(city, 45, seed=3, every=10))
    assert first == list(readings(city, 45, seed=3, every=10))
    occupancies = [json.loads(v)["occupancy"] for _, v in first]
    assert occupancies.count(85.0) == 5 * 6  # five corridors, six anomalous rounds each


def test_latency_counts_only_incidents_the_detectors_can_judge():
    # 06:30 is judged (the 06:00 hour bin saw 30 warm-up readings); 07:04 is not (4 readings)
    assert _judged(30) and not _judged(64)
    assert _judged(24 * 60 + 64)  # the next day the 07:00 bin is mature


def test_bad_arguments_fail_with_one_line(capsys, tmp_path):
    assert main(["--out", str(tmp_path), "--bootstrap", "127.0.0.1:1"]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
