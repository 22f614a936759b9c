"""Event-to-incident latency of the Kendali flow under a paced load.

The flow (one process, production sinks, tailing its topic) first catches up on a pre-loaded
warm-up so that every detector has a baseline, then a paced producer sends the following rounds
at a fixed rate for ``seconds`` (sustained load, with the planted incidents' onsets spread over
it), stamping the wall time at which each reading of a planted incident was handed to the
producer. An incident's latency is the time from the production of the reading that
opened it (named in its first version's evidence, ``atcs:<detector>@<ts>``) to the moment Redis
appended that version to the alert stream (the stream entry id is Redis' clock in ms).

The flow's consumers run with ``fetch.wait.max.ms`` = 20 (:data:`LOW_LATENCY`, a ``[kafka]
config`` setting): the embedded broker (Tansu) holds a fetch for the whole default wait (500 ms)
when little data is waiting, which alone would add up to half a second.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from pathlib import Path

import numpy as np
import orjson
import redis

from benchmarks.throughput_data import (
    INCIDENT_ROUNDS,
    base_city,
    incident_plan,
    readings,
    round_ts,
    synthetic_city,
)
from benchmarks.throughput_kafka import paced, preload
from benchmarks.throughput_run import incident_log, start_flow, stop, write_config
from kendali.settings import Settings
from kendali.store import Keys

__all__ = ["latency_probe"]

WARM_ROUNDS = 30
EVERY = 25
LOW_LATENCY = {"fetch.wait.max.ms": 20}


def latency_probe(
    settings: Settings,
    workdir: Path,
    *,
    detectors: int,
    seed: int,
    rate: float,
    progress,
    seconds: float | None = None,
) -> dict:
    """Latency percentiles (ms) of incident opening at ``rate`` readings/s, paced for about
    ``seconds`` (``None``: just the rounds of one incident, a short burst)."""
    kafka = dataclasses.replace(settings.kafka, config={**settings.kafka.config, **LOW_LATENCY})
    settings = dataclasses.replace(settings, kafka=kafka)
    paced_rounds = max(INCIDENT_ROUNDS + 6, math.ceil((seconds or 0) * rate / detectors))
    rounds = WARM_ROUNDS + paced_rounds
    city = synthetic_city(base_city(), detectors, seed)
    warm = detectors * WARM_ROUNDS
    preload(
        settings.kafka.bootstrap,
        settings.topics.traffic,
        itertools.islice(readings(city, rounds, seed, every=EVERY), warm),
    )
    # made before the clock starts: encoding them on the fly would slow the producer down
    load = list(readings(city, rounds, seed, first_round=WARM_ROUNDS, every=EVERY))
    cfg = write_config("latency", "B", settings, workdir, detectors=detectors, seed=seed, tail=True)
    children = start_flow("B", cfg, 1, settings)
    try:
        _wait_caught_up(settings, round_ts(WARM_ROUNDS - 1).timestamp(), children)
        progress(f"  caught up on {warm:,} warm-up readings; pacing at {rate:,.0f}/s")
        heads = {f"S{h:05d}".encode() for h in incident_plan(detectors, rounds, EVERY)}
        started = time.perf_counter()
        sent = paced(
            settings.kafka.bootstrap,
            settings.topics.traffic,
            load,
            rate,
            lambda key, _value: key in heads,
        )
        took = time.perf_counter() - started
        produced = {
            f"atcs:{key.decode()}@{orjson.loads(value)['ts']}": t
            for (key, value), t in sent.items()
        }
        log = _wait_incidents(settings, len(heads), children)
    finally:
        stop(children)
    lat = [
        entry["_entry_ms"] / 1000 - produced[ev]
        for entry in log
        if entry["version"] == 1
        for ev in entry["evidence"]
        if ev in produced
    ]
    pacing = {
        "rate": rate,
        "paced_s": took,
        "rate_achieved": len(load) / took,
        "planted": len(heads),
    }
    if not lat:
        return {"p50": None, "p95": None, "p99": None, "n": 0, **pacing}
    p50, p95, p99 = (float(v) * 1000 for v in np.percentile(lat, [50, 95, 99]))
    return {"p50": p50, "p95": p95, "p99": p99, "n": len(lat), **pacing}


def _alive(children) -> None:
    for child in children:
        if child.poll() is not None:
            raise RuntimeError(f"latency flow exited early with code {child.returncode}")


def _wait_caught_up(settings: Settings, last_event: float, children, timeout=600) -> None:
    client = redis.Redis.from_url(settings.redis.url)
    key = Keys(settings.redis.prefix).freshness
    deadline = time.time() + timeout
    while time.time() < deadline:
        _alive(children)
        info = client.hget(key, "atcs")
        if info and orjson.loads(info)["last_event"] >= last_event:
            return
        time.sleep(0.2)
    raise RuntimeError(f"latency flow did not catch up within {timeout} s")


def _wait_incidents(settings: Settings, expected: int, children, timeout=30) -> list[dict]:
    deadline = time.time() + timeout
    while True:
        _alive(children)
        log = incident_log(settings.redis.url, settings.redis.prefix)
        opened = sum(1 for i in log if i["version"] == 1 and i["category"] != "detector_fault")
        if opened >= expected or time.time() > deadline:
            return log
        time.sleep(0.5)
