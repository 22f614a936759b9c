"""Kafka side of the throughput benchmark: pre-loading a topic, pacing a producer, path A.

Path A is the limit a Python consumer reaches here: ``confluent-kafka`` ``consume`` in batches
of ``batch`` messages from every partition of the topic, each value decoded with ``orjson`` and
nothing else, until every partition reports its end.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

__all__ = ["consume_limit", "consume_limit_processes", "partitions", "preload", "producer"]


def producer(bootstrap: str, linger_ms: int = 20, idempotent: bool = True) -> Producer:
    """An idempotent producer with large batches (or small lingers, for latency probes)."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": linger_ms,
            "enable.idempotence": idempotent,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )


def _produce(prod: Producer, topic: str, key: bytes, value: bytes) -> None:
    while True:
        try:
            prod.produce(topic, value, key)
            return
        except BufferError:
            prod.poll(0.05)


def preload(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]], progress=None
) -> int:
    """Produce every message and wait for the broker's acknowledgement of all of them."""
    prod = producer(bootstrap)
    count = 0
    for key, value in messages:
        _produce(prod, topic, key, value)
        count += 1
        if count % 10_000 == 0:
            prod.poll(0)
            if progress and count % 500_000 == 0:
                progress(f"  produced {count:,}")
    if prod.flush(120):
        raise KafkaException(f"messages to {topic} not acknowledged after 120 s")
    return count


def paced(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes, bytes]],
    rate: float,
    stamp: Callable[[bytes, bytes], bool],
) -> dict[tuple[bytes, bytes], float]:
    """Produce at ``rate`` messages/s; wall time of production of the messages ``stamp`` picks.

    The producer is connected before the clock starts, like a data source that has been running
    for a while: a fresh idempotent producer holds its first messages until the broker gave it
    a producer id (about half a second on Tansu), which a first probe mistook for flow latency.
    It lingers librdkafka's default 5 ms: with 1 ms it sent so many small requests that Tansu
    fell behind, and a plain consumer saw p99 1,253 ms at 100,000 messages/s (26 ms with 5).
    """
    prod = producer(bootstrap, linger_ms=5, idempotent=False)
    prod.list_topics(topic, timeout=10)
    sent: dict[tuple[bytes, bytes], float] = {}
    start = time.perf_counter()
    for count, (key, value) in enumerate(messages):
        due = start + count / rate
        delay = due - time.perf_counter()
        if delay > 0:
            prod.poll(delay)
        _produce(prod, topic, key, value)
        if stamp(key, value):
            sent[(key, value)] = time.time()
    prod.flush(60)
    return sent


def partitions(bootstrap: str, topic: str) -> list[int]:
    """Partition ids of a topic."""
    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return sorted(meta.topics[topic].partitions)


def consume_limit(
    bootstrap: str,
    topic: str,
    batch: int = 1000,
    per_partition: bool = False,
    only: Sequence[int] | None = None,
) -> dict:
    """Path A: consume the whole topic in batches and ``orjson.loads`` every value.

    One consumer for all partitions, or (``per_partition``) one consumer per partition polled
    in turn from the same thread, the layout of Bytewax's Kafka sources: librdkafka then
    fetches the partitions over separate connections and threads, which is faster here.
    """
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": "kendali-bench-limit",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    }
    parts = partitions(bootstrap, topic) if only is None else list(only)
    groups = [[p] for p in parts] if per_partition else [parts]
    consumers = []
    for group in groups:
        consumer = Consumer(config)
        consumer.assign([TopicPartition(topic, p, -2) for p in group])
        consumers.append(consumer)
    timeout = 0.001 if per_partition else 0.1
    left, count, first, wall = set(parts), 0, None, 0.0
    while left:
        for consumer in consumers:
            msgs = consumer.consume(batch, timeout)
            if msgs and first is None:
                first, wall = time.perf_counter(), time.time()
            for msg in msgs:
                err = msg.error()
                if err is None:
                    orjson.loads(msg.value())
                    count += 1
                elif err.code() == KafkaError._PARTITION_EOF:
                    left.discard(msg.partition())
                else:
                    raise KafkaException(err)
    elapsed = time.perf_counter() - (first or time.perf_counter())
    for consumer in consumers:
        consumer.close()
    rps = count / elapsed if elapsed else 0.0
    return {"count": count, "seconds": elapsed, "rps": rps, "first": wall, "end": wall + elapsed}


def consume_limit_processes(bootstrap: str, topic: str, processes: int = 2) -> dict:
    """Path A in ``processes`` processes at once, each one consumer per partition of its share
    of the partitions (as a Bytewax cluster splits them): what plain consumers get from this
    broker when the work is spread, against which B with as many processes is compared."""
    parts = partitions(bootstrap, topic)
    ctx = multiprocessing.get_context("spawn")  # no librdkafka threads forked
    queue = ctx.Queue()
    shares = [parts[i::processes] for i in range(processes)]
    children = [
        ctx.Process(target=_limit_child, args=(queue, bootstrap, topic, share)) for share in shares
    ]
    for child in children:
        child.start()
    each = [queue.get(timeout=600) for _ in children]
    for child in children:
        child.join()
    count = sum(r["count"] for r in each)
    seconds = max(r["end"] for r in each) - min(r["first"] for r in each)
    return {
        "count": count,
        "seconds": seconds,
        "rps": count / seconds if seconds > 0 else 0.0,
        "each": [r["rps"] for r in each],
    }


def _limit_child(queue, bootstrap: str, topic: str, share: list[int]) -> None:
    queue.put(consume_limit(bootstrap, topic, per_partition=True, only=share))
