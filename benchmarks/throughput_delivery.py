"""Broker-alone delivery latency: what Kafka itself costs a reading, beside Kendali's latency.

The same paced producer as the latency phase sends the same readings at the same rate to a
topic of their own, while a plain consumer in a separate process (one ``Consumer`` per
partition polled in turn, the flow's consumer configuration, nothing else done with the
messages) notes when each stamped message arrives. Production to arrival is the part of the
event-to-incident latency that no dataflow can remove on this broker and machine; the rest is
the flow's.

Run as a child: ``python -m benchmarks.throughput_delivery CONFIG_JSON``, where the config names
``bootstrap``, ``topic``, ``config`` (librdkafka), ``keys`` (stamped message keys), ``expect``
(how many stamped messages to wait for), ``seconds`` (the most to wait) and ``out`` (where the
arrival times go, as JSON ``[[key, value, wall time], ...]``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from benchmarks.throughput_kafka import paced, partitions
from benchmarks.throughput_run import ROOT
from kendali.settings import Settings
from kendali.stack import create_topics

__all__ = ["delivery_probe", "percentiles"]


def percentiles(samples_s: Sequence[float]) -> dict:
    """p50/p95/p99 in ms of latencies in seconds, and how many there were.

    >>> percentiles([0.01, 0.02, 0.03])["p50"]
    20.0
    """
    if not len(samples_s):
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    p50, p95, p99 = (round(float(v) * 1000, 1) for v in np.percentile(samples_s, [50, 95, 99]))
    return {"p50": p50, "p95": p95, "p99": p99, "n": len(samples_s)}


def delivery_probe(
    settings: Settings,
    workdir: Path,
    load: Sequence[tuple[bytes, bytes]],
    rate: float,
    stamp: Callable[[bytes, bytes], bool],
) -> dict:
    """Production-to-arrival latency (ms) of the messages ``stamp`` picks, paced at ``rate``."""
    topic = f"{settings.topics.traffic}.delivery"
    create_topics(settings.kafka.bootstrap, {topic: settings.topics.partitions})
    stamped = [key for key, value in load if stamp(key, value)]
    out = workdir / "delivery.json"
    cfg = workdir / "delivery-config.json"
    cfg.write_bytes(
        orjson.dumps(
            {
                "bootstrap": settings.kafka.bootstrap,
                "topic": topic,
                "config": {**settings.kafka.config, **settings.flow.consumer_config},
                "keys": sorted({k.decode() for k in stamped}),
                "expect": len(stamped),
                "seconds": len(load) / rate + 30,
                "out": str(out),
            }
        )
    )
    ready = workdir / "delivery.ready"
    ready.unlink(missing_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.throughput_delivery", str(cfg)],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        },
    )
    try:
        _wait_for(ready, child)
        sent = paced(settings.kafka.bootstrap, topic, load, rate, stamp)
        if child.wait(timeout=len(load) / rate + 60) != 0:
            raise RuntimeError(f"delivery consumer exited with code {child.returncode}")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    arrived = {(k.encode(), v.encode()): t for k, v, t in orjson.loads(out.read_bytes())}
    lat = [arrived[m] - t for m, t in sent.items() if m in arrived]
    return {**percentiles(lat), "sent": len(sent)}


def _wait_for(ready: Path, child: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if child.poll() is not None:
            raise RuntimeError(f"delivery consumer exited early with code {child.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"delivery consumer not ready after {timeout} s")
        time.sleep(0.05)


def _consume(cfg: dict) -> None:
    config = {
        "bootstrap.servers": cfg["bootstrap"],
        "group.id": "kendali-bench-delivery",
        "enable.auto.commit": False,
        **cfg["config"],
    }
    consumers = []
    for p in partitions(cfg["bootstrap"], cfg["topic"]):
        consumer = Consumer(config)
        consumer.assign([TopicPartition(cfg["topic"], p, OFFSET_BEGINNING)])  # a new topic
        consumers.append(consumer)
    for consumer in consumers:  # connected and fetching before the producer starts
        consumer.consume(1, 0.5)
    keys = {k.encode() for k in cfg["keys"]}
    arrived: list[tuple[str, str, float]] = []
    Path(cfg["out"]).with_name("delivery.ready").touch()
    deadline = time.monotonic() + cfg["seconds"]
    while len(arrived) < cfg["expect"] and time.monotonic() < deadline:
        got = 0
        for consumer in consumers:
            msgs = consumer.consume(10_000, 0)
            now = time.time()
            got += len(msgs)
            arrived.extend(
                (m.key().decode(), m.value().decode(), now)
                for m in msgs
                if m.error() is None and m.key() in keys
            )
        if not got:
            time.sleep(0.001)
    for consumer in consumers:
        consumer.close()
    Path(cfg["out"]).write_bytes(orjson.dumps(arrived))


if __name__ == "__main__":
    _consume(orjson.loads(Path(sys.argv[1]).read_bytes()))
