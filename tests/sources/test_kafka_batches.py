"""The batch source against the real broker: whole batches, offsets as state, bounded mode."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from confluent_kafka import Producer

from kendali.stack import create_topics
from sources.kafka_batches import IDLE_BACKOFF, LAG, KafkaBatchSource, MessageBatch


def _topic(stack, count: int) -> str:
    topic = f"batches.{uuid.uuid4().hex[:8]}"
    create_topics(stack.bootstrap, {topic: 2})
    producer = Producer({"bootstrap.servers": stack.bootstrap})
    for i in range(count):
        producer.produce(topic, str(i).encode(), key=b"k", partition=i % 2)
    producer.flush(30)
    return topic


def _drain(part) -> list[MessageBatch]:
    out = []
    while True:
        try:
            out.extend(part.next_batch())
        except StopIteration:
            return out


def test_bounded_read_resumes_from_the_snapshot_offset(stack):
    topic = _topic(stack, 40)
    source = KafkaBatchSource([stack.bootstrap], [topic], tail=False, batch_size=7)
    assert sorted(source.list_parts()) == [f"0-{topic}", f"1-{topic}"]
    part = source.build_part("in", f"1-{topic}", None)
    batches = _drain(part)
    values = [int(m.value()) for b in batches for m in b.messages]
    assert values == list(range(1, 40, 2))  # partition 1 in offset order, nothing else
    assert all(len(b.messages) <= 7 and (b.topic, b.partition) == (topic, 1) for b in batches)
    assert part.snapshot() == 20
    assert LAG.labels(topic, "1")._value.get() == 0
    part.close()
    again = source.build_part("in", f"1-{topic}", 15)
    assert [int(m.value()) for b in _drain(again) for m in b.messages] == [31, 33, 35, 37, 39]
    again.close()


def test_a_tailing_source_waits_for_more(stack):
    topic = _topic(stack, 4)
    part = KafkaBatchSource([stack.bootstrap], [topic], tail=True).build_part(
        "in", f"0-{topic}", None
    )
    got, deadline = [], time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < deadline:
        got.extend(m.value() for b in part.next_batch() for m in b.messages)
    assert got == [b"0", b"2"]
    assert part.next_awake() is None  # it had data: look again at once
    assert part.next_batch() == []  # no end of partition in tail mode: just nothing yet
    # an idle partition is not polled again at once, and the poll did not wait in librdkafka
    assert part.next_awake() - datetime.now(UTC) <= IDLE_BACKOFF
    part.close()


def test_resuming_another_topic_is_refused(stack):
    source = KafkaBatchSource([stack.bootstrap], ["a"])
    try:
        source.build_part("in", "0-b", None)
    except ValueError as exc:
        assert "not one of" in str(exc)
    else:
        raise AssertionError("a partition of another topic was accepted")
