"""Event-to-incident latency of the Kendali flow under a paced load, beside the broker's own.

The flow (one process, production settings and sinks, tailing its topic) first catches up on a
pre-loaded warm-up so that every detector has a baseline, then a paced producer sends the
following rounds at a fixed rate for ``seconds`` (sustained load, with the planted incidents'
onsets spread over it), stamping the wall time at which each reading of a planted incident was
handed to the producer. An incident's latency is the time from the production of the reading
that opened it (named in its first version's evidence, ``atcs:<detector>@<ts>``) to the moment
Redis appended that version to the alert stream (the stream entry id is Redis' clock in ms).

Before the flow starts, the same readings are paced at the same rate to a plain consumer in a
separate process (:mod:`benchmarks.throughput_delivery`): the broker's delivery latency, which
no dataflow can remove here, so the flow's own share can be read off.

Only incidents whose onset falls where the detector can judge are counted: a half-hour bin
that has seen fewer than ``min_count`` readings (the first day's young bins) scores nothing,
so an incident planted there would not open at that reading at all.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from pathlib import Path

import orjson
import redis

from benchmarks.throughput_data import (
    INCIDENT_ROUNDS,
    START,
    base_city,
    incident_plan,
    readings,
    round_ts,
    synthetic_city,
)
from benchmarks.throughput_delivery import delivery_probe, percentiles
from benchmarks.throughput_kafka import paced, preload
from benchmarks.throughput_run import incident_log, start_flow, stop, write_config
from detectors.traffic import TrafficParams
from detectors.traffic_batch import time_bin
from kendali.settings import Settings
from kendali.store import Keys

__all__ = ["latency_probe"]

WARM_ROUNDS = 30
EVERY = 25


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
    ``seconds`` (``None``: just the rounds of one incident, a short burst), and the broker's
    delivery latency of the same readings at the same rate (``broker``)."""
    paced_rounds = max(INCIDENT_ROUNDS + 6, math.ceil((seconds or 0) * rate / detectors))
    rounds = WARM_ROUNDS + paced_rounds
    city = synthetic_city(base_city(), detectors, seed)
    warm = detectors * WARM_ROUNDS
    preload(
        settings.kafka.bootstrap,
        settings.topics.traffic,
        itertools.islice(readings(city, rounds, seed, every=EVERY), warm),
    )
    # made before the clock starts: encoding them on the fly would slow the producer down. Each
    # value is copied: orjson's bytes keep a 4 KB buffer, 12 GB for 3 million readings.
    load = [
        (key, bytes(memoryview(value)))
        for key, value in readings(city, rounds, seed, first_round=WARM_ROUNDS, every=EVERY)
    ]
    plan = incident_plan(detectors, rounds, EVERY)
    heads = {f"S{h:05d}".encode() for h, onset in plan.items() if _judged(onset)}
    stamp = lambda key, _value: key in heads  # noqa: E731
    broker = delivery_probe(settings, workdir, load, rate, stamp)
    progress(f"  broker alone at {rate:,.0f}/s: {broker}")
    cfg = write_config("latency", "B", settings, workdir, detectors=detectors, seed=seed, tail=True)
    children = start_flow("B", cfg, 1, settings)
    try:
        _wait_caught_up(settings, round_ts(WARM_ROUNDS - 1).timestamp(), children)
        progress(f"  caught up on {warm:,} warm-up readings; pacing at {rate:,.0f}/s")
        started = time.perf_counter()
        sent = paced(settings.kafka.bootstrap, settings.topics.traffic, load, rate, stamp)
        took = time.perf_counter() - started
        produced = {
            f"atcs:{key.decode()}@{orjson.loads(value)['ts']}": t
            for (key, value), t in sent.items()
        }
        log = _wait_incidents(settings, produced.keys(), len(heads), children)
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
    return {**percentiles(lat), **pacing, "broker": broker}


def _judged(onset: int) -> bool:
    """Whether the readings that open an incident planted at round ``onset`` (the first
    ``persist``) fall in baseline bins that have seen ``min_count`` readings by then."""
    params = TrafficParams()
    bins = [_bin(r) for r in range(onset + params.persist)]
    return all(bins[:r].count(bins[r]) >= params.min_count for r in range(onset, len(bins)))


@functools.cache
def _bin(r: int) -> int:
    """Baseline bin of round ``r`` (computed once: every planted onset asks for the rounds
    before it)."""
    return time_bin(round_ts(r), START.tzinfo)


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


def _wait_incidents(settings: Settings, stamped, expected: int, children, timeout=30) -> list:
    """The incident log once ``expected`` incidents opened on ``stamped`` readings (or at the
    timeout: some may not open)."""
    deadline = time.time() + timeout
    while True:
        _alive(children)
        log = incident_log(settings.redis.url, settings.redis.prefix)
        opened = sum(1 for i in log if i["version"] == 1 and not stamped.isdisjoint(i["evidence"]))
        if opened >= expected or time.time() > deadline:
            return log
        time.sleep(0.5)
