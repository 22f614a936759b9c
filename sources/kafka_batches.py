"""A Kafka input that hands each consumed batch through whole: one dataflow item per poll.

Bytewax's own ``KafkaSource`` wraps every message in a ``KafkaSourceMessage`` (about 2.5 µs a
message here, more than ``orjson.loads`` of an ATCS reading) and then sends each through the
dataflow as an item. At line rate that is most of the cost, so this source keeps
``confluent_kafka.Message`` objects as they come and emits one :class:`MessageBatch` per
partition per poll; the decoder reads values straight from them.

Semantics are Bytewax's ``KafkaSource`` (partitions are ``"<index>-<topic>"``, state is the next
offset to read, ``tail=False`` ends at the end of the partition as it was when reached), so
recovery and ``-i/-a`` clusters work the same. Consumer errors travel inside the batch as
messages whose ``error()`` is set, for the decoder to dead-letter.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client import Gauge

__all__ = ["KafkaBatchSource", "MessageBatch"]

LAG = Gauge(
    "kendali_consumer_lag_messages",
    "Messages between the flow's next offset and the partition's end, updated once a second",
    ["topic", "partition"],
)


#: A partition whose poll came back empty is not polled again for this long. Polls do not wait
#: in librdkafka: a blocking poll of each idle partition (Bytewax's ``KafkaSource`` waits 1 ms)
#: stalled the worker for 16 ms of every cycle with 20 partitions, 4 of them busy, and each
#: cycle's readings waited for that. Data arrives in fetches (``fetch.wait.max.ms``), so a
#: few ms more before the next look costs nothing.
IDLE_BACKOFF = timedelta(milliseconds=5)


@dataclass(frozen=True, slots=True)
class MessageBatch:
    """Messages of one topic partition from one poll, in offset order; ``errors`` of them
    carry a consumer error instead of a record."""

    topic: str
    partition: int
    messages: list[Message]
    errors: int = 0


class _BatchPartition(StatefulSourcePartition[MessageBatch, int]):
    def __init__(self, config: dict, topic: str, index: int, offset: int, batch_size: int):
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, index, offset)])
        self._topic, self._index, self._offset = topic, index, offset
        self._batch_size = batch_size
        self._eof = False
        self._lag = LAG.labels(topic, str(index))
        self._lag_at = 0.0
        self._awake: datetime | None = None

    def next_batch(self) -> list[MessageBatch]:
        if self._eof:
            raise StopIteration
        msgs = self._consumer.consume(self._batch_size, 0)
        if not msgs:
            self._awake = datetime.now(UTC) + IDLE_BACKOFF
            self._report_lag()
            return []
        self._awake = None
        errs = list(map(Message.error, msgs))  # C loops: no Python bytecode per message
        clean = set(map(type, errs)) == {type(None)}  # (KafkaError == None raises)
        errors = [] if clean else [i for i, e in enumerate(errs) if e is not None]
        for i in errors:
            if msgs[i].error().code() == KafkaError._PARTITION_EOF:
                self._eof = True  # emit what came before; stop at the next call
                msgs, errors = msgs[:i], [e for e in errors if e < i]
                break
        last = next((o for m in reversed(msgs) if (o := m.offset()) is not None and o >= 0), None)
        if last is not None:
            self._offset = last + 1
        self._report_lag(force=self._eof)
        return [MessageBatch(self._topic, self._index, msgs, len(errors))] if msgs else []

    def _report_lag(self, force: bool = False) -> None:
        now = time.monotonic()
        if now - self._lag_at < 1.0 and not force:
            return
        self._lag_at = now
        tp = TopicPartition(self._topic, self._index)
        low, high = self._consumer.get_watermark_offsets(tp, cached=True)
        if high < 0:
            return  # not known yet (no fetch answered)
        position = self._offset
        if position < 0:  # nothing read yet: from the start, or from the end
            position = low if position == OFFSET_BEGINNING else high
        self._lag.set(max(high - position, 0))

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> int:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class KafkaBatchSource(FixedPartitionedSource[MessageBatch, int]):
    """Topics in as :class:`MessageBatch` items, one per partition per poll (see module doc).

    ``add_config`` is librdkafka configuration (e.g. ``fetch.wait.max.ms``); ``batch_size`` is
    the most messages taken per poll.
    """

    def __init__(
        self,
        brokers: Iterable[str],
        topics: Iterable[str],
        *,
        tail: bool = True,
        starting_offset: int = OFFSET_BEGINNING,
        add_config: dict[str, Any] | None = None,
        batch_size: int = 1000,
    ):
        if isinstance(brokers, str) or isinstance(topics, str):
            raise TypeError("brokers and topics must be lists of strings, not a string")
        self.brokers = list(brokers)
        self.topics = list(topics)
        self.tail = tail
        self.starting_offset = starting_offset
        self.add_config = dict(add_config or {})
        self.batch_size = batch_size

    def list_parts(self) -> list[str]:
        admin = AdminClient({"bootstrap.servers": ",".join(self.brokers), **self.add_config})
        parts = []
        for topic in self.topics:  # one by one, so that auto-creation is respected
            meta = admin.list_topics(topic).topics[topic]
            if meta.error is not None:
                raise RuntimeError(f"cannot list partitions of topic {topic!r}: {meta.error.str()}")
            parts.extend(f"{index}-{topic}" for index in meta.partitions)
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _BatchPartition:
        index, topic = for_part.split("-", 1)
        if topic not in self.topics:
            raise ValueError(f"cannot resume partition {for_part!r}: not one of {self.topics}")
        config = {
            "group.id": "kendali-offsets-in-recovery-store",  # never used: partitions assigned
            "enable.auto.commit": "false",
            "bootstrap.servers": ",".join(self.brokers),
            "enable.partition.eof": str(not self.tail).lower(),
            **self.add_config,
        }
        offset = self.starting_offset if resume_state is None else resume_state
        return _BatchPartition(config, topic, int(index), offset, self.batch_size)
