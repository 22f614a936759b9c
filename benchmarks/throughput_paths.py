"""Dataflows of the throughput benchmark, built in each Bytewax process from a JSON config.

``python -m bytewax.run "benchmarks.throughput_paths:flow('cfg.json', 0)"`` builds path

* ``B``: Kendali's production city flow (:func:`flows.city.build_flow`, production sinks:
  Redis incidents and series, Kafka alerts and dead letters) on the synthetic city, reading
  every input topic like production does;
* ``C``: the common pattern, ``KafkaSource`` -> ``map`` decode -> ``key_on`` detector ->
  ``stateful_map`` with a river ``GaussianScorer`` per detector;
* ``D``: the same with a river ``HalfSpaceTrees`` per detector (Bytewax's ML examples).

Ablations of B price its stages: ``ablate="detect"`` makes the traffic bank return at once
(this process only), ``"detect+sinks"`` also replaces the four sinks with counting null sinks.

The Kafka source is wrapped to stop at the topic end (``tail=False``) or at a deadline, and to
note when its first message arrived. Each process writes what it read and emitted, those times
and its peak memory to ``<stats>-<proc>.json`` for the orchestrator: at its deadline (a flow
stuck in snapshots may take minutes more to end, so the orchestrator may kill it then) or at
exit.
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
import pickle
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bytewax.operators as op
import orjson
from bytewax.connectors.kafka import KafkaSource
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from prometheus_client import REGISTRY
from river.anomaly import GaussianScorer, HalfSpaceTrees

from benchmarks.throughput_data import base_city, synthetic_city
from kendali.runtime import tune_gc
from kendali.settings import Settings
from sources.kafka_batches import KafkaBatchSource, MessageBatch

__all__ = ["flow", "model_bytes"]

_STATS: dict[str, Any] = {"read": 0, "out": 0, "first": None}


class _BoundedPart(StatefulSourcePartition):
    def __init__(self, inner: StatefulSourcePartition, seconds: float | None, at_deadline):
        self.inner = inner
        self.seconds = seconds
        self.at_deadline = at_deadline

    def next_batch(self) -> list:
        first = _STATS["first"]
        if self.seconds is not None and first and time.time() > first + self.seconds:
            self.at_deadline()
            raise StopIteration
        batch = self.inner.next_batch()
        if batch:
            _STATS["read"] += sum(len(b.messages) if type(b) is MessageBatch else 1 for b in batch)
            _STATS["first"] = first or time.time()
        return batch

    def next_awake(self) -> datetime | None:
        return self.inner.next_awake()

    def snapshot(self) -> Any:
        return self.inner.snapshot()

    def close(self) -> None:
        self.inner.close()


class _ReplayPart(StatefulSourcePartition):
    """A partition read to its end before the flow starts, then handed out from memory.

    Every process marks itself ready once its partitions are held (a file ``<barrier>-<me>``)
    and waits until ``size`` processes are, so that the clock starts at once everywhere (also
    in two runs sharing a barrier) and the broker does no work while the flow runs: what is
    measured is the flow alone, with every core for it.
    """

    def __init__(self, inner: StatefulSourcePartition, barrier: str, me: str, size: int):
        self.batches: list = []
        while True:
            try:
                self.batches.extend(inner.next_batch())
            except StopIteration:
                break
        self.offset = inner.snapshot()
        inner.close()
        gc.freeze()  # the held messages are not garbage: keep collections from walking them
        self.batches.reverse()  # popped from the end
        self.ready = Path(f"{barrier}-{me}")
        self.everyone = f"{Path(barrier).name}-*"  # every process's ready file
        self.size = size
        self.started = False

    def next_batch(self) -> list:
        if not self.started:
            self.ready.touch()
            if len(list(self.ready.parent.glob(self.everyone))) < self.size:
                return []
            self.started = True
        if not self.batches:
            raise StopIteration
        return [self.batches.pop()]

    def next_awake(self) -> datetime | None:
        return None if self.started else datetime.now(UTC) + timedelta(milliseconds=5)

    def snapshot(self) -> Any:
        return self.offset


class _Bounded(FixedPartitionedSource):
    """A Kafka source that ends at the topic end, or ``seconds`` after its first message;
    with ``replay``, each partition is read up front and replayed from memory (see
    :class:`_ReplayPart`)."""

    def __init__(
        self,
        inner: KafkaSource | KafkaBatchSource,
        seconds: float | None,
        at_deadline=lambda: None,
        replay: tuple[str, str, int] | None = None,
    ):
        self.inner = inner
        self.seconds = seconds
        self.at_deadline = at_deadline
        self.replay = replay

    def list_parts(self) -> list[str]:
        return self.inner.list_parts()

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _BoundedPart:
        part = self.inner.build_part(step_id, for_part, resume_state)
        if self.replay is not None:
            part = _ReplayPart(part, *self.replay)
        return _BoundedPart(part, self.seconds, self.at_deadline)


class _CountPart(StatelessSinkPartition):
    def write_batch(self, items: list) -> None:
        _STATS["out"] += len(items)


class _CountSink(DynamicSink):
    """Null sink counting what reaches it (paths C and D)."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CountPart:
        return _CountPart()


def _gaussian(model: GaussianScorer | None, reading: dict) -> tuple[GaussianScorer, float]:
    model = model or GaussianScorer()
    y = reading["occupancy"]
    score = model.score_one(None, y)
    model.learn_one(None, y)
    return model, score


_LIMITS = {"occupancy": (0.0, 100.0), "speed": (0.0, 120.0), "volume": (0.0, 60.0)}


def _trees(model: HalfSpaceTrees | None, reading: dict) -> tuple[HalfSpaceTrees, float]:
    model = model or HalfSpaceTrees(seed=42, limits=_LIMITS)
    x = {name: reading[name] for name in _LIMITS}
    score = model.score_one(x)
    model.learn_one(x)
    return model, score


def model_bytes(readings: int = 300) -> dict[str, int]:
    """Pickled size of one detector's model in paths C and D after ``readings`` readings.

    >>> sizes = model_bytes(20)
    >>> sizes["C"] < sizes["D"]
    True
    """
    out = {}
    for path, mapper in (("C", _gaussian), ("D", _trees)):
        model = None
        for i in range(readings):
            reading = {"occupancy": 10.0 + i % 7, "speed": 40.0 - i % 5, "volume": 20.0 + i % 3}
            model, _ = mapper(model, reading)
        out[path] = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    return out


def _model_flow(name: str, source: _Bounded, mapper) -> Dataflow:
    flow = Dataflow(f"bench_{name}")
    messages = op.input("in", flow, source)
    decoded = op.map("decode", messages, lambda m: orjson.loads(m.value))
    keyed = op.key_on("key", decoded, lambda r: r["detector_id"])
    op.output("out", op.stateful_map("score", keyed, mapper), _CountSink())
    return flow


def _kendali_flow(cfg: dict, source: _Bounded, settings: Settings) -> Dataflow:
    """Path B; ``ablate`` (``detect``, ``detect+sinks``) switches stages off to price them."""
    from detectors.traffic import TrafficBank
    from flows.city import FlowSinks, build_flow

    city = synthetic_city(base_city(), cfg["detectors"], cfg["seed"])
    ablate = cfg.get("ablate") or ""
    if "detect" in ablate:
        TrafficBank.process = lambda self, readings: []
    sinks = FlowSinks(*(_CountSink(),) * 4) if "sinks" in ablate else None
    return build_flow(settings, source=source, city=city, sinks=sinks)


def _peak_rss() -> int:
    """Peak resident memory of this process in bytes: ``VmHWM``, which starts afresh at exec.

    ``ru_maxrss`` does not: Linux keeps it across ``execve``, so a child of the benchmark's
    driver (which holds the pre-loaded readings) reported the driver's peak, not its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF)[2] * 1024


def _write_stats(cfg: dict, proc: int, settings: Settings) -> None:
    """Statistics of this process so far; only the first call (deadline or exit) counts."""
    if _STATS.get("written"):
        return
    _STATS["written"] = True
    topic = settings.topics.traffic
    stats = dict(_STATS, end=time.time(), peak_rss=_peak_rss())
    del stats["written"]
    for name, metric in (("decoded", "messages_decoded"), ("dead", "messages_deadlettered")):
        value = REGISTRY.get_sample_value(f"kendali_{metric}_total", {"topic": topic})
        stats[name] = int(value or 0)
    Path(f"{cfg['stats']}-{proc}.json").write_text(json.dumps(stats))


def flow(config: str, proc: int = 0) -> Dataflow:
    """The dataflow of the path named in the JSON ``config`` file, for process ``proc``."""
    cfg = json.loads(Path(config).read_text())
    settings = Settings().with_overrides(cfg["env"])
    brokers, tail = [settings.kafka.bootstrap], cfg.get("tail", False)
    # C and D read as such a flow is written (KafkaSource's default batch of 1,000, Python's
    # GC), unless ``tuned``: then with Kendali's batch size and GC setting, like for like.
    tuned = cfg.get("tuned", False)
    size = settings.flow.batch_size if cfg["path"] == "B" or tuned else 1000
    if cfg["path"] == "B":  # exactly the production input (flows.city.build_flow's default)
        kafka = KafkaBatchSource(
            brokers,
            list(settings.input_topics()),
            tail=tail,
            add_config={**settings.kafka.config, **settings.flow.consumer_config},
            batch_size=size,
        )
    else:
        kafka = KafkaSource(
            brokers,
            [settings.topics.traffic],
            tail=tail,
            add_config=settings.kafka.config,
            batch_size=size,
            raise_on_errors=False,
        )
    write = functools.partial(_write_stats, cfg, proc, settings)
    replay = None
    if cfg.get("replay"):  # the run's barrier, or one shared with another run (a pair)
        barrier, size = cfg["barrier"]
        replay = (barrier, f"{Path(cfg['stats']).name}-{proc}", size)
    source = _Bounded(kafka, cfg.get("seconds"), write, replay)
    atexit.register(write)
    if cfg["path"] == "B":
        return _kendali_flow(cfg, source, settings)  # build_flow tunes the GC as configured
    tune_gc(settings.flow.gc_threshold if tuned else 0)
    return _model_flow(cfg["path"], source, _gaussian if cfg["path"] == "C" else _trees)
