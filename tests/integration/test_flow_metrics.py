"""The dataflow's Prometheus endpoint: consumer lag and decode counters, when a port is set."""

from __future__ import annotations

import dataclasses
import urllib.request
from datetime import UTC, datetime

import orjson
import pytest
from confluent_kafka import Producer

from kendali.processes import Child, flow_command, server_env
from tests.support import free_port, wait_until

pytestmark = pytest.mark.integration


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def test_flow_metrics_show_lag_and_decoded_readings(isolated_settings, tmp_path):
    port = free_port()
    flow_settings = dataclasses.replace(isolated_settings.flow, metrics_port=port)
    settings = dataclasses.replace(isolated_settings, flow=flow_settings)
    assert server_env(settings)["BYTEWAX_DATAFLOW_API_PORT"] == str(port)
    assert "BYTEWAX_DATAFLOW_API_PORT" not in server_env(isolated_settings)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    ts = datetime.now(UTC).replace(microsecond=0).isoformat()
    for i in range(20):
        reading = {"detector_id": "BPN-A01-EB", "intersection": "A01", "approach": "EB",
                   "ts": ts, "interval_s": 300, "volume": i}  # fmt: skip
        producer.produce(settings.topics.traffic, orjson.dumps(reading), b"BPN-A01-EB")
    assert producer.flush(10) == 0
    flow = Child(
        "dataflow",
        flow_command(settings, recovery=False),
        server_env(settings),
        tmp_path / "flow.log",
        cwd=tmp_path,
    ).start()  # Bytewax writes dataflow.json here
    try:
        topic = settings.topics.traffic

        def counted():
            text = _metrics(port)
            decoded = f'kendali_messages_decoded_total{{topic="{topic}"}} 20.0'
            return (
                decoded in text
                and f'kendali_consumer_lag_messages{{partition="0",topic="{topic}"}}' in text
                and text
            )

        text = wait_until(counted, 60, "the flow's /metrics to count the readings", flow)
        assert "bytewax_" in text  # Bytewax's own step metrics on the same endpoint
    finally:
        flow.stop()
