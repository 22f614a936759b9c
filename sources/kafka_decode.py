"""Turn raw Kafka messages into typed records, or into dead letters that say why not.

One batch at a time (Bytewax hands the source's batches through ``flat_map_batch``): the clock
is read once per batch and each message goes through the decoder of its topic. Nothing raises;
everything is counted (once per batch and topic, not per message).

ATCS readings, by far the largest stream, take a fast path (:class:`_FastTraffic`): the checks of
:func:`kendali.codec.decode_traffic` inlined, and each distinct timestamp string parsed and
range-checked once per batch (a batch from thousands of detectors holds a handful of distinct
times). Anything the fast path does not accept outright goes through ``decode_traffic``, so
records and rejection reasons are exactly the codec's.
"""

from __future__ import annotations

import math
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from prometheus_client import Counter

from kendali.codec import Limits, Rejected, decode_complaint, decode_hydromet, decode_traffic
from kendali.records import DeadLetter, TrafficReading
from kendali.settings import TopicSettings

__all__ = ["Decoded", "Decoder"]

DECODED = Counter("kendali_messages_decoded_total", "Messages accepted, by topic", ["topic"])
DEAD = Counter("kendali_messages_deadlettered_total", "Messages dead-lettered, by topic", ["topic"])


@dataclass(frozen=True, slots=True)
class Decoded:
    """A valid record and the stream it came from (``traffic``, ``hydromet``, ``complaints``,
    ``warnings``, ``actions``)."""

    stream: str
    record: Any
    topic: str = ""
    value: bytes | None = None
    key: bytes | None = None
    partition: int | None = None
    offset: int | None = None

    def reject(self, reason: str) -> DeadLetter:
        """A dead letter for a record that decoded but cannot be used (an unknown detector)."""
        return DeadLetter(self.topic, reason, self.value, self.key, self.partition, self.offset)


_REQUIRED = ("detector_id", "intersection", "approach", "ts", "interval_s")
_RANGES = (("volume", 100_000.0), ("occupancy", 100.0), ("speed", 300.0))


def _optional(value: Any, hi: float) -> float | None:
    """The codec's optional number check; raises ``ValueError`` where the codec would refuse."""
    if value is None:
        return None
    if type(value) is not float and type(value) is not int:
        raise ValueError
    value = float(value)
    if not 0.0 <= value <= hi:  # also refuses NaN; orjson never yields infinities
        raise ValueError
    return value


def _name(value: Any) -> str:
    if type(value) is not str or len(value) > 200 or not value.strip():
        raise ValueError
    return value


class _FastTraffic:
    """``decode_traffic`` for one batch, ``None`` where the full codec must decide."""

    def __init__(self, limits: Limits, now: datetime):
        self.max_bytes = limits.max_bytes
        self.lo, self.hi = now - limits.max_past, now + limits.max_future
        self.times: dict[str, datetime | None] = {}

    def _ts(self, text: Any) -> datetime | None:
        if type(text) is not str:
            return None
        if text not in self.times:
            try:
                ts = datetime.fromisoformat(text)
            except ValueError:
                ts = None
            if ts is not None and (ts.utcoffset() is None or not self.lo <= ts <= self.hi):
                ts = None
            self.times[text] = ts
        return self.times[text]

    def __call__(self, raw: bytes | None) -> TrafficReading | None:
        if raw is None or len(raw) > self.max_bytes:
            return None
        try:
            obj = orjson.loads(raw)
            if type(obj) is not dict or obj.get("schema", 1) != 1:
                return None
            interval = obj["interval_s"]
            if type(interval) is not int and type(interval) is not float:
                return None
            if not 1 <= interval <= 86_400 or not math.isfinite(interval):
                return None
            ts = self._ts(obj["ts"])
            values = [_optional(obj.get(name), hi) for name, hi in _RANGES]
            reading = TrafficReading(
                _name(obj["detector_id"]),
                _name(obj["intersection"]),
                _name(obj["approach"]),
                ts,
                int(interval),
                *values,
            )
        except (orjson.JSONDecodeError, KeyError, ValueError):
            return None
        if ts is None or values == [None, None, None]:
            return None
        return reading


class Decoder:
    """Callable for ``flat_map_batch``: messages in, :class:`Decoded` or :class:`DeadLetter` out.

    ``extra`` maps further topics to decoders returning a record or :class:`Rejected` (CAP XML,
    operator actions), so that new inputs plug in without touching this class.
    """

    def __init__(
        self,
        topics: TopicSettings,
        limits: Limits,
        extra: dict[str, tuple[str, Callable[[bytes | None], Any]]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.limits = limits
        self.now = now
        self.routes: dict[str, tuple[str, Callable[..., Any]]] = {
            topics.traffic: ("traffic", decode_traffic),
            topics.hydromet: ("hydromet", decode_hydromet),
            topics.complaints: ("complaints", decode_complaint),
        }
        self.extra = dict(extra or {})
        self.traffic_topic = topics.traffic if topics.traffic not in self.extra else None

    def _one(self, msg: KafkaSourceMessage, now: datetime) -> Decoded | DeadLetter:
        topic = msg.topic or ""
        if topic in self.extra:
            stream, decode = self.extra[topic]
            result = decode(msg.value)
        elif topic in self.routes:
            stream, decode = self.routes[topic]
            result = decode(msg.value, now=now, limits=self.limits)
        else:
            result, stream = Rejected(f"no decoder for topic {topic!r}"), ""
        if isinstance(result, Rejected):
            return DeadLetter(topic, result.reason, msg.value, msg.key, msg.partition, msg.offset)
        return Decoded(stream, result, topic, msg.value, msg.key, msg.partition, msg.offset)

    def __call__(self, batch: list[KafkaSourceMessage | KafkaError]) -> Iterable:
        now = self.now()
        fast, traffic = _FastTraffic(self.limits, now), self.traffic_topic
        out: list[Decoded | DeadLetter] = []
        decoded, dead = Tally(), Tally()
        for msg in batch:
            if isinstance(msg, KafkaError):
                inner = msg.msg
                item: Decoded | DeadLetter = DeadLetter(
                    inner.topic or "",
                    f"consumer error: {msg.err}",
                    inner.value,
                    inner.key,
                    inner.partition,
                    inner.offset,
                )
            elif msg.topic == traffic and (reading := fast(msg.value)) is not None:
                item = Decoded(
                    "traffic", reading, traffic, msg.value, msg.key, msg.partition, msg.offset
                )
            else:
                item = self._one(msg, now)
            (dead if type(item) is DeadLetter else decoded)[item.topic] += 1
            out.append(item)
        for tally, metric in ((decoded, DECODED), (dead, DEAD)):
            for topic, count in tally.items():
                metric.labels(topic).inc(count)
        return out
