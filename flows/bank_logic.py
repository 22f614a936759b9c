"""Bytewax glue for pure detector banks and incident books: batched, cheap to snapshot.

``stateful_batch`` calls a logic once per key per batch, which is what lets a bank update its
numpy state for a whole batch at once. Snapshots are ``pickle.dumps`` of the bank (immutable
bytes, several times cheaper than the ``deepcopy`` of ``stateful_map``; see BYTEWAX.md §8).

Values are ``(partition, record)`` pairs, ``(partition, [records])`` for batched streams, or
``(partition, TrafficColumns)`` for the ATCS stream (fed to the bank as one sorted batch).
Time for silence checks and expiry is an event-time
watermark taken, as Flink does, as the *minimum* over the input partitions that feed the key
of (newest event time seen on that partition + wall time since it arrived). Readings of one
bank come through several Kafka partitions that a replay drains at different speeds; with the
newest time overall instead, detectors on a lagging partition would look silent. A partition
that stops delivering still lets the watermark advance with the wall clock.
"""

from __future__ import annotations

import heapq
import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from bytewax.operators import StatefulBatchLogic

from kendali.columns import TrafficColumns

__all__ = ["BankLogic", "Gather", "OrderedBankLogic", "Tick", "bank_builder", "watermark"]


@dataclass(frozen=True, slots=True)
class Tick:
    """A bank's event-time clock, sent downstream with its signals.

    Per-key clocks only advance with the key's own items: a zone's incident book that saw its
    last signal an hour of event time ago would think no time has passed, and never resolve
    that incident while a replay races on. Detector banks emit their watermark every tick; the
    flow hands it to every zone's book, which advances its clock and feeds nothing to the book.
    """

    ts: datetime


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


@dataclass(frozen=True, slots=True)
class Gather:
    """Hold a traffic bank's columns until ``rows`` readings or ``wait`` of wall time have
    gathered, then release them in event-time order up to the input partitions' watermark.

    A bank call has a fixed cost (a few hundred µs of numpy set-up for the traffic bank) that a
    city pays per shard per source batch; gathering makes calls large at line rate,
    while live data waits at most ``wait``. Releasing only readings no newer than the oldest
    of the newest times of ``partitions`` (every input partition) makes the bank see readings
    of different partitions in event-time order, however fast each is read: a detector's next
    reading never overtakes its downstream neighbour's reading of the time before, so the
    neighbour's confirmation, and with it the incident, is the same with 1 or 2 processes. A
    partition that has delivered nothing for ``hold`` since the first reading stops counting
    (it carries none of this shard's detectors), and a reading waits at most ``hold`` for a
    lagging one.
    """

    rows: int
    wait: timedelta
    partitions: tuple = ()
    hold: timedelta = timedelta(seconds=1)


class _Held:
    """Gathered columns, kept as the parts they came in (joined once, when released), with the
    wall time each row arrived (epoch seconds)."""

    def __init__(self, parts: list[TrafficColumns], wall: datetime):
        self.parts: list[tuple[TrafficColumns, np.ndarray]] = []
        self.rows = 0
        self.add(parts, wall)

    def __len__(self) -> int:
        return self.rows

    def add(self, parts: list[TrafficColumns], wall: datetime) -> None:
        at = wall.timestamp()
        for part in parts:
            if len(part):
                self.parts.append((part, np.full(len(part), at)))
                self.rows += len(part)

    def columns(self) -> TrafficColumns | None:
        """Everything held, as one batch in arrival order (None when nothing is)."""
        if not self.rows:
            return None
        if len(self.parts) > 1:
            cols = TrafficColumns.concat([cols for cols, _ in self.parts])
            self.parts = [(cols, np.concatenate([arrived for _, arrived in self.parts]))]
        return self.parts[0][0]

    def release(self, mark: float, stale: float) -> TrafficColumns | None:
        """Rows up to event time ``mark`` or arrived before ``stale``, in event-time order."""
        cols = self.columns()
        if cols is None:
            return None
        arrived = self.parts[0][1]
        go = (cols.t <= mark) | (arrived <= stale)
        if go.all():
            out, self.parts, self.rows = cols, [], 0
        elif not go.any():
            return None
        else:
            out = cols.take(go)
            self.parts = [(cols.take(~go), arrived[~go])]
            self.rows = len(self.parts[0][1])
        return out.in_time_order()

    def oldest(self) -> float:
        return min(float(arrived[0]) for _, arrived in self.parts)


class BankLogic(StatefulBatchLogic):
    """Feeds batches to ``bank.process`` (sorted by event time) and ticks it every ``every``.

    Bytewax does not tell a builder which key it builds for, so the bank is made from the
    first record it receives (``make(record)``): a traffic shard learns its detectors from it.
    With ``gather``, input is held until enough has come (:class:`Gather`); held input is part
    of the snapshot, since the source's offsets in the same snapshot are already past it.
    """

    def __init__(
        self,
        make: Callable[[Any], Any],
        every: timedelta,
        bank: Any = None,
        newest: dict[Any, datetime] | None = None,
        gathered: list | None = None,
        *,
        ticks: bool = False,
        gather: Gather | None = None,
        adopt: Callable[[Any, datetime], list] | None = None,
    ):
        self.make = make
        self.ticks = ticks
        self.bank = bank
        #: Called once on a restored bank, before it sees input or ticks (see bank_builder).
        self.adopt = adopt if bank is not None else None
        self.every = every
        restored = datetime.now(UTC)
        self.clocks = {part: (ts, restored) for part, ts in (newest or {}).items()}
        self.next_tick = restored + every
        self.gather = gather
        self.held = _Held(list(gathered or ()), restored)
        self.started: datetime | None = restored if gathered else None

    def on_batch(self, values: list[tuple[Any, Any]]) -> tuple[Iterable[Any], bool]:
        wall = datetime.now(UTC)
        adopted = self._adopt(wall)
        records = self._arrive(values, wall)
        if self.gather is None:
            return adopted + self._process(records), StatefulBatchLogic.RETAIN
        self.started = self.started or wall
        self.held.add(records, wall)
        if len(self.held) < self.gather.rows and wall < self._due():
            return adopted, StatefulBatchLogic.RETAIN
        return adopted + self._flush(wall), StatefulBatchLogic.RETAIN

    def _adopt(self, wall: datetime) -> list[Any]:
        """Once after a restore: the bank takes the current configuration (its signals out)."""
        if self.adopt is None:
            return []
        adopt, self.adopt = self.adopt, None
        return adopt(self.bank, watermark(self.clocks, wall) or wall)

    def _due(self) -> datetime:
        """When the oldest held reading's ``wait`` is over."""
        return datetime.fromtimestamp(self.held.oldest(), UTC) + self.gather.wait

    def _flush(self, wall: datetime, everything: bool = False) -> list[Any]:
        """Process what the gather may release now (all of it at the end of input)."""
        if self.gather is None or not len(self.held):
            return []
        if everything:
            mark = stale = float("inf")
        else:
            mark = self._partition_mark(wall)
            stale = (wall - self.gather.hold).timestamp()
        batch = self.held.release(mark, stale)
        return self._process([batch]) if batch is not None else []

    def _partition_mark(self, wall: datetime) -> float:
        """Oldest newest-event-time of the expected partitions (see :class:`Gather`)."""
        gather = self.gather
        waiting = self.started is not None and wall - self.started < gather.hold
        newest = []
        for part in gather.partitions or self.clocks:
            clock = self.clocks.get(part)
            if clock is not None:
                newest.append(clock[0].timestamp())
            elif waiting:
                return float("-inf")  # not heard from yet: it may still carry this shard
        return min(newest, default=float("inf"))

    def _process(self, records: list[Any]) -> list[Any]:
        """Records (or column batches) of any arrival order to the bank, in event-time order."""
        if not records:
            return []
        if type(records[0]) is TrafficColumns:
            batch: Any = TrafficColumns.concat(records).in_time_order()
            first = batch
        else:
            batch = sorted(records, key=_event_time)
            first = batch[0]
        if self.bank is None:
            self.bank = self.make(first)
        return self.bank.process(batch)

    def _arrive(self, values: list[tuple[Any, Any]], wall: datetime) -> list[Any]:
        """Flatten ``(partition, record, list of records or TrafficColumns)`` values (columns
        stay whole); advance the clocks."""
        records: list[Any] = []
        for part, payload in values:
            if type(payload) is TrafficColumns:
                newest = payload.newest()
                self._advance(part, newest, wall)
                records.append(payload)
                continue
            batch = payload if type(payload) is list else [payload]
            newest = max(batch, key=_event_time).ts
            self._advance(part, newest, wall)
            records.extend(item for item in batch if type(item) is not Tick)
        return records

    def _advance(self, part: Any, newest: datetime, wall: datetime) -> None:
        seen = self.clocks.get(part)
        if seen is None or newest > seen[0]:
            self.clocks[part] = (newest, wall)

    def on_notify(self) -> tuple[Iterable[Any], bool]:
        wall = datetime.now(UTC)
        out = self._adopt(wall)  # a restored bank's first tick must know the current detectors
        out += self._flush(wall)  # gathered input first: a tick must not call detectors silent
        if wall < self.next_tick:
            return out, StatefulBatchLogic.RETAIN
        self.next_tick = wall + self.every
        now = watermark(self.clocks, wall)
        if now is None or self.bank is None:
            return out, StatefulBatchLogic.RETAIN
        out += self.bank.tick(now)
        return ([*out, Tick(now)] if self.ticks else out), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        if len(self.held) and self.gather is not None:
            due = self._due()
            if due <= datetime.now(UTC):  # waiting for a lagging partition: at most ``hold``
                due += self.gather.hold - self.gather.wait
            return min(self.next_tick, due)
        return self.next_tick

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        """Bounded input ended: pass the final clock on, so downstream books see it too."""
        out = self._flush(datetime.now(UTC), everything=True)
        now = watermark(self.clocks, datetime.now(UTC))
        if self.ticks and now is not None:
            out.append(Tick(now))
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes:
        newest = {part: event for part, (event, _seen) in self.clocks.items()}
        cols = self.held.columns()
        held = [] if cols is None else [cols]
        state = (self.bank, newest, held)
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


class OrderedBankLogic(BankLogic):
    """A :class:`BankLogic` that feeds its bank in event-time order, whatever the batch cuts.

    Which report opens a cluster, or which signal opens a fused incident, decides an id; that
    must not depend on how Kafka batches happened to be cut, or a replay after a crash would
    write the same incident under another id. Items are held and released sorted by (event
    time, tie-break) once every expected input partition has delivered something at least as
    new (the watermark), or after ``max_wait`` of wall time, which bounds the added latency
    when a partition carries nothing for this key. Bytewax polls all partitions in turn, so
    in a replay their batches arrive within that wait of each other.
    """

    def __init__(self, make, every, bank=None, newest=None, *, partitions: tuple = (),
                 max_wait: timedelta, held: list | None = None, ticks: bool = False,
                 adopt: Callable[[Any, datetime], list] | None = None):  # fmt: skip
        super().__init__(make, every, bank, newest, ticks=ticks, adopt=adopt)
        self.partitions = tuple(partitions)
        self.max_wait = max_wait
        restored = datetime.now(UTC)
        # heap of (event time, tie-break, arrival number, arrival wall time, item)
        self.held = [(ts, tie, n, restored, item) for n, (ts, tie, item) in enumerate(held or ())]
        heapq.heapify(self.held)
        self.arrivals = len(self.held)

    def _watermark(self) -> datetime | None:
        if not self.partitions or any(p not in self.clocks for p in self.partitions):
            return None
        return min(self.clocks[p][0] for p in self.partitions)

    def _release(self, wall: datetime) -> list[Any]:
        mark = self._watermark()
        out = []
        while self.held:
            ts, _tie, _n, arrived, _item = self.held[0]
            if not ((mark is not None and ts <= mark) or wall - arrived >= self.max_wait):
                break
            out.append(heapq.heappop(self.held)[-1])
        return out

    def on_batch(self, values: list[tuple[Any, Any]]) -> tuple[Iterable[Any], bool]:
        wall = datetime.now(UTC)
        adopted = self._adopt(wall)
        for item in self._arrive(values, wall):
            heapq.heappush(self.held, (item.ts, _tie_break(item), self.arrivals, wall, item))
            self.arrivals += 1
        return adopted + self._feed(self._release(wall)), StatefulBatchLogic.RETAIN

    def _feed(self, items: list[Any]) -> list[Any]:
        if not items:
            return []
        if self.bank is None:
            self.bank = self.make(items[0])
        return self.bank.process(items)

    def on_notify(self) -> tuple[Iterable[Any], bool]:
        wall = datetime.now(UTC)
        out = self._adopt(wall) + self._feed(self._release(wall))
        if wall >= self.next_tick:
            ticked, _ = super().on_notify()
            out = [*out, *ticked]
        return out, StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        """Bounded input ended: release everything held, then let the bank see the final time."""
        items = [heapq.heappop(self.held)[-1] for _ in range(len(self.held))]
        out = self._feed(items)
        now = watermark(self.clocks, datetime.now(UTC))
        if now is not None and self.bank is not None:
            out = [*out, *self.bank.tick(now)]
        if self.ticks and now is not None:
            out.append(Tick(now))
        return out, StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        if self.held:
            return min(self.next_tick, self.held[0][3] + self.max_wait)
        return self.next_tick

    def snapshot(self) -> bytes:
        newest = {part: event for part, (event, _seen) in self.clocks.items()}
        held = [(ts, tie, item) for ts, tie, _n, _at, item in sorted(self.held)]
        return pickle.dumps((self.bank, newest, held), protocol=pickle.HIGHEST_PROTOCOL)


def _tie_break(item: Any) -> tuple[str, str, str]:
    """Stable order for items with equal event times: kind, episode or action id, state."""
    name = getattr(item, "episode", None) or getattr(item, "id", "")
    return (type(item).__name__, name, getattr(item, "state", ""))


def _event_time(value: Any) -> datetime:
    return value.ts


def bank_builder(
    make: Callable[[Any], Any],
    every: timedelta,
    *,
    ordered: dict | None = None,
    ticks: bool = False,
    gather: Gather | None = None,
    adopt: Callable[[Any, datetime], list] | None = None,
) -> Callable[[bytes | None], BankLogic]:
    """Builder for ``op.stateful_batch``: a fresh logic, or the one restored from a snapshot.

    ``ordered`` (``partitions``, ``max_wait``) makes it an :class:`OrderedBankLogic`; ``ticks``
    makes it emit :class:`Tick` markers with its clock; ``gather`` (plain logic only) batches
    its input (:class:`Gather`). ``adopt(bank, now)`` is called once on a restored bank before
    it sees input or ticks, so that a bank snapshotted under an older city
    configuration takes the current one; what it returns (signals) goes downstream.
    """

    def build(resume: bytes | None) -> BankLogic:
        state = pickle.loads(resume) if resume is not None else (None, None, None)
        if ordered is None:
            return BankLogic(make, every, *state[:3], ticks=ticks, gather=gather, adopt=adopt)
        return OrderedBankLogic(
            make, every, *state[:2], held=state[2], ticks=ticks, adopt=adopt, **ordered
        )

    return build
