"""Driving the real city dataflow in tests: a fixed scenario, progress, and what ended up in Redis.

The flow runs as ``python -m bytewax.run`` with recovery (a child process, killable), reading
the isolated topics of one test. Progress is read from the recovery store itself: a run has
consumed everything when the snapshotted offset of every input partition has reached the end
of that partition, so tests wait for facts rather than for sleeps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import redis
from confluent_kafka import Consumer, TopicPartition

from kendali.city import load_city
from kendali.codec import encode
from kendali.processes import Child, flow_command, init_recovery, server_env
from kendali.settings import Settings
from kendali.stack import create_topics
from kendali.store import Keys
from sources.publish import KafkaPublisher
from sources.simulator import CitySimulator, load_scenario
from tests.support import ROOT

Message = tuple[str, bytes, bytes]


def scenario_messages(settings: Settings, *, seed: int = 3, hours: float = 14) -> list[Message]:
    """The demo city's scenario as (stream, key, value), ending two hours after its start and
    one hour before now (inside the decoders' time limits)."""
    city = load_city(settings.city)
    scenario = load_scenario(Path(settings.city) / "scenario.toml")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=2)
    sim = CitySimulator(city, scenario, seed=seed, start=start, backfill=timedelta(hours=hours - 2))
    return [(e.topic_kind, e.key.encode(), encode(e.record)) for e in sim.events(end)]


def publish(settings: Settings, messages: list[Message]) -> None:
    """Publish and wait for the broker's acknowledgements."""
    producer = KafkaPublisher(settings)
    for stream, key, value in messages:
        producer(stream, key, value)
    producer.flush()


def flow_child(settings: Settings, log: Path, *, recovery: bool = True, fresh=False) -> Child:
    """The city dataflow as a child process (not started); recovery store initialised (wiped
    first if ``fresh``)."""
    if recovery:
        init_recovery(settings, fresh=fresh)
    argv = flow_command(settings, recovery=recovery)
    return Child("dataflow", argv, server_env(settings), log, cwd=ROOT)


def end_offsets(settings: Settings) -> dict[tuple[str, int], int]:
    """High watermark of every input partition."""
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka.bootstrap, "group.id": "reliability-probe"}
    )
    try:
        out = {}
        for topic in settings.input_topics():
            for p in range(settings.topics.partitions):
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                out[(topic, p)] = high
        return out
    finally:
        consumer.close()


def recovered_offsets(recovery_dir: str) -> dict[tuple[str, int], int]:
    """Input offsets in the newest snapshots of the recovery store (``{}`` while empty)."""
    out: dict[tuple[str, int], int] = {}
    for db in Path(recovery_dir).glob("part-*.sqlite3"):
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
            rows = c.execute(
                "SELECT state_key, ser_change FROM snaps WHERE step_id = 'kendali.in' "
                "ORDER BY snap_epoch"
            ).fetchall()
        for key, blob in rows:
            part, _, topic = key.partition("-")
            if blob is not None and part.isdigit():
                out[(topic, int(part))] = pickle.loads(blob)
    return out


def caught_up(settings: Settings, ends: dict[tuple[str, int], int]) -> bool:
    """Whether the recovery store says every input partition was consumed to its end."""
    try:
        done = recovered_offsets(settings.flow.recovery_dir)
    except sqlite3.Error:
        return False
    return all(done.get(tp, 0) >= high for tp, high in ends.items() if high > 0)


@dataclass(frozen=True)
class Outcome:
    """What the run left in Redis: incidents by id, and the alert stream's (id, version)s."""

    incidents: dict[str, tuple[str, int]]
    versions: dict[str, int]
    alerts: list[tuple[str, int]]


def outcome(settings: Settings) -> Outcome:
    client = redis.Redis.from_url(settings.redis.url, socket_timeout=10)
    keys = Keys(settings.redis.prefix)
    incidents, versions = {}, {}
    for raw in client.zrange(keys.incidents, 0, -1):
        state = client.hgetall(keys.incident(raw.decode()))
        inc = orjson.loads(state[b"json"])
        incidents[inc["id"]] = (inc["status"], len(inc["evidence"]))
        versions[inc["id"]] = int(state[b"version"])
    alerts = [
        (f[b"id"].decode(), int(f[b"version"])) for _, f in client.xrange(keys.alerts, "-", "+")
    ]
    client.close()
    return Outcome(incidents, versions, alerts)


def settle(settings: Settings, flow: Child, ends, timeout: float = 90) -> Outcome:
    """Wait until the flow consumed everything and Redis stopped changing for 3 s."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        assert flow.alive(), f"dataflow died:\n{flow.tail()}"
        now = outcome(settings)
        if now != last:
            last, since = now, time.monotonic()
        elif caught_up(settings, ends) and time.monotonic() - since > 3:
            return now
        time.sleep(0.3)
    raise AssertionError(f"flow did not settle in {timeout:.0f} s:\n{flow.tail()}")


def sibling(settings: Settings, folder: Path) -> Settings:
    """Settings like ``settings`` with topics, Redis prefix and recovery store of their own
    (a second, independent run in the same test)."""
    tag = "-b" + uuid.uuid4().hex[:6]
    names = {
        f.name: getattr(settings.topics, f.name) + tag
        for f in dataclasses.fields(settings.topics)
        if f.name != "partitions"
    }
    out = dataclasses.replace(
        settings,
        topics=dataclasses.replace(settings.topics, **names),
        redis=dataclasses.replace(settings.redis, prefix=settings.redis.prefix + tag),
        flow=dataclasses.replace(settings.flow, recovery_dir=str(folder / "recovery")),
    )
    create_topics(out.kafka.bootstrap, {t: out.topics.partitions for t in out.all_topics()})
    return out


def stack_settings(stack, folder: Path) -> Settings:
    """Independent settings on the session's servers for a module-scoped fixture (the
    ``isolated_settings`` fixture is per test)."""
    base = dataclasses.replace(
        stack.settings,
        kafka=dataclasses.replace(stack.settings.kafka, bootstrap=stack.bootstrap),
        redis=dataclasses.replace(stack.settings.redis, url=stack.redis_url, prefix="rel"),
        topics=dataclasses.replace(stack.settings.topics, partitions=2),
    )
    return sibling(base, folder)
