"""Bytewax glue for pure detector banks and incident books: batched, cheap to snapshot.

``stateful_batch`` calls a logic once per key per batch, which is what lets a bank update its
numpy state for a whole batch at once. Snapshots are ``pickle.dumps`` of the bank (immutable
bytes, several times cheaper than the ``deepcopy`` of ``stateful_map``; see BYTEWAX.md §8).

Values are ``(partition, record)`` pairs. Time for silence checks and expiry is an event-time
watermark taken, as Flink does, as the *minimum* over the input partitions that feed the key
of (newest event time seen on that partition + wall time since it arrived). Readings of one
bank come through several Kafka partitions that a replay drains at different speeds; with the
newest time overall instead, detectors on a lagging partition would look silent. A partition
that stops delivering still lets the watermark advance with the wall clock.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.operators import StatefulBatchLogic

__all__ = ["BankLogic", "bank_builder", "watermark"]


def watermark(clocks: dict[Any, tuple[datetime, datetime]], wall: datetime) -> datetime | None:
    """Event-time now: min over partitions of (newest event + wall time since it arrived).

    >>> from datetime import timezone
    >>> t = datetime(2026, 1, 1, 8, tzinfo=timezone.utc)
    >>> clocks = {0: (t, t), 1: (t - timedelta(hours=2), t)}
    >>> watermark(clocks, t + timedelta(minutes=1)).hour
    6
    """
    if not clocks:
        return None
    return min(event + (wall - seen) for event, seen in clocks.values())


class BankLogic(StatefulBatchLogic):
    """Feeds batches to ``bank.process`` (sorted by event time) and ticks it every ``every``.

    Bytewax does not tell a builder which key it builds for, so the bank is made from the
    first record it receives (``make(record)``): a traffic shard learns its detectors from it.
    """

    def __init__(
        self,
        make: Callable[[Any], Any],
        every: timedelta,
        bank: Any = None,
        newest: dict[Any, datetime] | None = None,
    ):
        self.make = make
        self.bank = bank
        self.every = every
        restored = datetime.now(UTC)
        self.clocks = {part: (ts, restored) for part, ts in (newest or {}).items()}
        self.next_tick = restored + every

    def on_batch(self, values: list[tuple[Any, Any]]) -> tuple[Iterable[Any], bool]:
        wall = datetime.now(UTC)
        for part, record in values:
            seen = self.clocks.get(part)
            if seen is None or record.ts > seen[0]:
                self.clocks[part] = (record.ts, wall)
        records = sorted((record for _, record in values), key=_event_time)
        if self.bank is None:
            self.bank = self.make(records[0])
        return self.bank.process(records), StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[Any], bool]:
        wall = datetime.now(UTC)
        self.next_tick = wall + self.every
        now = watermark(self.clocks, wall)
        if now is None or self.bank is None:
            return [], StatefulBatchLogic.RETAIN
        return self.bank.tick(now), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return self.next_tick

    def snapshot(self) -> bytes:
        newest = {part: event for part, (event, _seen) in self.clocks.items()}
        return pickle.dumps((self.bank, newest), protocol=pickle.HIGHEST_PROTOCOL)


def _event_time(value: Any) -> datetime:
    return value.ts


def bank_builder(
    make: Callable[[Any], Any], every: timedelta
) -> Callable[[bytes | None], BankLogic]:
    """Builder for ``op.stateful_batch``: a fresh logic, or the one restored from a snapshot."""

    def build(resume: bytes | None) -> BankLogic:
        if resume is None:
            return BankLogic(make, every)
        bank, newest = pickle.loads(resume)
        return BankLogic(make, every, bank, newest)

    return build
