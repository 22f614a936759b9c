"""Bytewax glue for pure detector banks and incident books: batched, cheap to snapshot.

``stateful_batch`` calls a logic once per key per batch, which is what lets a bank update its
numpy state for a whole batch at once. Snapshots are ``pickle.dumps`` of the bank (immutable
bytes, several times cheaper than the ``deepcopy`` of ``stateful_map``; see BYTEWAX.md §8).
Time for silence checks and expiry is event time: the newest record seen plus the wall time
elapsed since, so a replay at full speed and live operation behave alike.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.operators import StatefulBatchLogic

__all__ = ["BankLogic", "bank_builder"]


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
        last_event: datetime | None = None,
    ):
        self.make = make
        self.bank = bank
        self.every = every
        self.last_event = last_event
        self.last_wall = datetime.now(UTC)
        self.next_tick = self.last_wall + every

    def _now(self) -> datetime | None:
        if self.last_event is None:
            return None
        return self.last_event + (datetime.now(UTC) - self.last_wall)

    def on_batch(self, values: list[Any]) -> tuple[Iterable[Any], bool]:
        values = sorted(values, key=_event_time)
        if self.bank is None:
            self.bank = self.make(values[0])
        newest = _event_time(values[-1])
        if self.last_event is None or newest > self.last_event:
            self.last_event = newest
            self.last_wall = datetime.now(UTC)
        return self.bank.process(values), StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[Any], bool]:
        self.next_tick = datetime.now(UTC) + self.every
        now = self._now()
        if now is None or self.bank is None:
            return [], StatefulBatchLogic.RETAIN
        return self.bank.tick(now), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return self.next_tick

    def snapshot(self) -> bytes:
        return pickle.dumps((self.bank, self.last_event), protocol=pickle.HIGHEST_PROTOCOL)


def _event_time(value: Any) -> datetime:
    return value.ts


def bank_builder(
    make: Callable[[Any], Any], every: timedelta
) -> Callable[[bytes | None], BankLogic]:
    """Builder for ``op.stateful_batch``: a fresh logic, or the one restored from a snapshot."""

    def build(resume: bytes | None) -> BankLogic:
        if resume is None:
            return BankLogic(make, every)
        bank, last_event = pickle.loads(resume)
        return BankLogic(make, every, bank, last_event)

    return build
