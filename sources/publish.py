"""Publishing records to Kendali's input topics (simulator, replays, the Open311 intake).

Delivery: at-least-once. ``produce`` hands messages to librdkafka, which retries on its own;
``flush`` waits for the broker's acknowledgements and raises if any message failed, so a
caller that has flushed knows its data is in the broker.
"""

from __future__ import annotations

from confluent_kafka import KafkaException, Producer

from kendali.settings import Settings

__all__ = ["KafkaPublisher"]


class KafkaPublisher:
    """``publisher(stream, key, value)`` with ``stream`` one of traffic, hydromet, complaints,
    warnings, actions; the topic names come from the settings."""

    def __init__(self, settings: Settings, **config):
        t = settings.topics
        self.topics = {
            "traffic": t.traffic,
            "hydromet": t.hydromet,
            "complaints": t.complaints,
            "warnings": t.warnings,
            "actions": t.actions,
        }
        self._errors: list[str] = []
        self._producer = Producer(
            {
                "bootstrap.servers": settings.kafka.bootstrap,
                "linger.ms": 20,
                "enable.idempotence": True,
                **settings.kafka.config,
                **config,
            }
        )
        self.sent = 0

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")

    def __call__(self, stream: str, key: bytes | None, value: bytes) -> None:
        topic = self.topics[stream]
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=self._delivered)
                break
            except BufferError:
                self._producer.poll(0.05)
        self.sent += 1
        if self.sent % 1000 == 0:
            self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every message to be acknowledged; raise if any was refused."""
        left = self._producer.flush(timeout)
        if left:
            raise KafkaException(f"{left} messages not acknowledged after {timeout:.0f} s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise KafkaException(f"{len(errors)} messages refused, first: {errors[0]}")
