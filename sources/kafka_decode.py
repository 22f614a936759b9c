"""Turn raw Kafka messages into typed records, or into dead letters that say why not.

One batch at a time (Bytewax hands the source's batches through ``flat_map_batch``): the clock
is read once per batch and each message goes through the decoder of its topic. Nothing raises;
everything is counted (once per batch and topic, not per message).

ATCS readings, by far the largest stream, are decoded straight into columns
(:mod:`sources.traffic_columns`), one :class:`TrafficDecoded` per source batch, with exactly the
codec's verdicts. Input is :class:`~sources.kafka_batches.MessageBatch` items from the flow's
Kafka source, or single ``KafkaSourceMessage``/``KafkaError`` items (tests, other sources).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from confluent_kafka import Message
from prometheus_client import Counter

from kendali.codec import Limits, Rejected, decode_complaint, decode_hydromet, decode_traffic
from kendali.columns import TrafficColumns
from kendali.records import DeadLetter
from kendali.settings import TopicSettings
from sources.kafka_batches import MessageBatch
from sources.traffic_columns import TrafficColumnDecoder

__all__ = ["Decoded", "Decoder", "TrafficDecoded"]

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


@dataclass(frozen=True, slots=True)
class TrafficDecoded:
    """The valid ATCS readings of one source batch as columns; ``letter(position, reason)``
    dead-letters the message at ``position`` of that batch (``columns.index`` holds them)."""

    columns: TrafficColumns
    letter: Callable[[int, str], DeadLetter]


def _message(m: KafkaSourceMessage) -> Message:
    """A ``KafkaSourceMessage`` (tests, other sources) as the Kafka client's own message."""
    return Message(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key, value=m.value)


def _letter(topic: str, msg: Any, reason: str) -> DeadLetter:
    return DeadLetter(topic, reason, msg.value(), msg.key(), msg.partition(), msg.offset())


def _batches(items: list[Any]) -> Iterator[MessageBatch | KafkaError]:
    """Source items as message batches: :class:`MessageBatch` as they are, runs of
    ``KafkaSourceMessage`` (tests, other sources) grouped by topic and partition."""
    run: list[Any] = []
    for item in items:
        if type(item) is KafkaSourceMessage:
            if run and (run[-1].topic, run[-1].partition) != (item.topic, item.partition):
                yield MessageBatch(run[0].topic or "", run[0].partition, list(map(_message, run)))
                run = []
            run.append(item)
            continue
        if run:
            yield MessageBatch(run[0].topic or "", run[0].partition, list(map(_message, run)))
            run = []
        yield item
    if run:
        yield MessageBatch(run[0].topic or "", run[0].partition, list(map(_message, run)))


class Decoder:
    """Callable for ``flat_map_batch``: messages in, :class:`Decoded` or :class:`DeadLetter` out.

    ``extra`` maps further topics to decoders returning a record or :class:`Rejected` (CAP XML,
    operator actions), so that new inputs plug in without touching this class. ``detectors``
    numbers the city's ATCS detectors (see :class:`~sources.traffic_columns.TrafficColumnDecoder`).
    """

    def __init__(
        self,
        topics: TopicSettings,
        limits: Limits,
        extra: dict[str, tuple[str, Callable[[bytes | None], Any]]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        detectors: Mapping[str, int] | None = None,
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
        self.traffic = TrafficColumnDecoder(limits, detectors)

    def _one(self, topic: str, msg: Any, now: datetime) -> Decoded | DeadLetter:
        value = msg.value()
        if topic in self.extra:
            stream, decode = self.extra[topic]
            result = decode(value)
        elif topic in self.routes:
            stream, decode = self.routes[topic]
            result = decode(value, now=now, limits=self.limits)
        else:
            result, stream = Rejected(f"no decoder for topic {topic!r}"), ""
        if isinstance(result, Rejected):
            return _letter(topic, msg, result.reason)
        return Decoded(stream, result, topic, value, msg.key(), msg.partition(), msg.offset())

    def _traffic(self, batch: MessageBatch, now: datetime) -> list[Any]:
        msgs, topic, out = batch.messages, batch.topic, []
        if batch.errors:  # rare: consumer errors ride in the batch
            out = [_letter(topic, m, self._error(m)) for m in msgs if m.error() is not None]
            msgs = [m for m in msgs if m.error() is None]
        cols, rejected = self.traffic(list(map(Message.value, msgs)), now, batch.partition)
        out.extend(_letter(topic, msgs[i], reason) for i, reason in rejected)
        if len(cols):
            out.append(TrafficDecoded(cols, lambda i, why: _letter(topic, msgs[i], why)))
        return out

    @staticmethod
    def _error(msg: Any) -> str | None:
        err = msg.error()
        return None if err is None else f"consumer error: {err}"

    def __call__(self, batch: list[Any]) -> list[Any]:
        """Source items (:class:`MessageBatch`, ``KafkaSourceMessage``, ``KafkaError``) in;
        :class:`TrafficDecoded`, :class:`Decoded` and :class:`DeadLetter` out."""
        now = self.now()
        out: list[Any] = []
        decoded, dead = Tally(), Tally()
        for item in _batches(batch):
            if type(item) is KafkaError:
                inner = item.msg
                letter = DeadLetter(
                    inner.topic or "",
                    f"consumer error: {item.err}",
                    inner.value,
                    inner.key,
                    inner.partition,
                    inner.offset,
                )
                dead[letter.topic] += 1
                out.append(letter)
                continue
            topic = item.topic
            if topic == self.traffic_topic:
                parts = self._traffic(item, now)
            else:
                parts = [
                    _letter(topic, m, err) if (err := self._error(m)) else self._one(topic, m, now)
                    for m in item.messages
                ]
            for part in parts:
                if type(part) is DeadLetter:
                    dead[topic] += 1
                elif type(part) is TrafficDecoded:
                    decoded[topic] += len(part.columns)
                else:
                    decoded[topic] += 1
            out.extend(parts)
        for tally, metric in ((decoded, DECODED), (dead, DEAD)):
            for topic, count in tally.items():
                metric.labels(topic).inc(count)
        return out
