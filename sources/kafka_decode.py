"""Turn raw Kafka messages into typed records, or into dead letters that say why not.

One batch at a time (Bytewax hands the source's batches through ``flat_map_batch``): the clock
is read once per batch and each message goes through the decoder of its topic. Nothing raises;
everything is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from prometheus_client import Counter

from kendali.codec import Limits, Rejected, decode_complaint, decode_hydromet, decode_traffic
from kendali.records import DeadLetter
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
            DEAD.labels(topic).inc()
            return DeadLetter(topic, result.reason, msg.value, msg.key, msg.partition, msg.offset)
        DECODED.labels(topic).inc()
        return Decoded(stream, result, topic, msg.value, msg.key, msg.partition, msg.offset)

    def __call__(self, batch: list[KafkaSourceMessage | KafkaError]) -> Iterable:
        now = self.now()
        out = []
        for msg in batch:
            if isinstance(msg, KafkaError):
                inner = msg.msg
                DEAD.labels(inner.topic or "").inc()
                out.append(
                    DeadLetter(
                        inner.topic or "",
                        f"consumer error: {msg.err}",
                        inner.value,
                        inner.key,
                        inner.partition,
                        inner.offset,
                    )
                )
            else:
                out.append(self._one(msg, now))
        return out
