"""BankLogic's gathering of traffic columns: large bank calls, bounded waits, nothing lost."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from flows.bank_logic import BankLogic, Gather, bank_builder
from kendali.columns import TrafficColumns
from kendali.records import TrafficReading

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


class Recorder:
    """A bank that remembers what it was given."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def process(self, cols: TrafficColumns) -> list[str]:
        self.calls.append(
            [
                f"{d}@{t:%M}"
                for d, t in zip(cols.ids, map(cols.timestamp, range(len(cols))), strict=True)
            ]
        )
        return [f"signal{len(self.calls)}"]

    def tick(self, now: datetime) -> list:
        return []


def _cols(*rows: tuple[str, int], partition: int = 0) -> TrafficColumns:
    readings = [
        TrafficReading(d, "A", "N", T0 + timedelta(minutes=m), 60, 1.0, 2.0, 3.0) for d, m in rows
    ]
    return TrafficColumns.from_readings(readings, partition)


def _logic(rows: int, wait_ms: float, parts=(), hold_s: float = 1.0) -> tuple[BankLogic, Recorder]:
    bank = Recorder()
    gather = Gather(rows, timedelta(milliseconds=wait_ms), parts, timedelta(seconds=hold_s))
    return BankLogic(lambda _: bank, timedelta(seconds=60), gather=gather), bank


def test_input_is_held_until_enough_rows_then_given_in_time_order():
    logic, bank = _logic(rows=4, wait_ms=10_000)
    out, _ = logic.on_batch([(0, _cols(("A", 3), ("B", 3)))])
    assert list(out) == [] and bank.calls == []
    out, _ = logic.on_batch([(1, _cols(("C", 1), ("D", 2), ("E", 3), partition=1))])
    assert list(out) == ["signal1"]
    assert bank.calls == [["C@01", "D@02", "A@03", "B@03", "E@03"]]


def test_a_fast_partition_waits_for_the_slow_one():
    """A detector's next reading must not overtake its neighbour's reading on another
    partition: rows are released up to the oldest newest time of the partitions."""
    logic, bank = _logic(rows=1, wait_ms=0, parts=(0, 1))
    logic.on_batch([(0, _cols(("HEAD", 1), ("HEAD2", 2)))])
    assert bank.calls == []  # partition 1 not heard from yet
    logic.on_batch([(1, _cols(("NEXT", 1), partition=1))])
    assert bank.calls == [["HEAD@01", "NEXT@01"]]
    logic.on_batch([(1, _cols(("NEXT", 2), partition=1))])
    assert bank.calls[-1] == ["HEAD2@02", "NEXT@02"]


def test_a_lagging_partition_holds_readings_at_most_hold():
    logic, bank = _logic(rows=1, wait_ms=0, parts=(0, 1), hold_s=0.05)
    logic.on_batch([(0, _cols(("A", 1)))])
    assert bank.calls == [] and logic.notify_at() is not None
    time.sleep(0.06)
    logic.on_notify()
    assert bank.calls == [["A@01"]]


def test_a_lone_small_batch_waits_at_most_the_gather_wait():
    logic, bank = _logic(rows=1000, wait_ms=30)
    logic.on_batch([(0, _cols(("A", 1)))])
    due = logic.notify_at()
    assert due is not None and due - datetime.now(UTC) <= timedelta(milliseconds=30)
    time.sleep(0.04)
    out, _ = logic.on_notify()
    assert list(out) == ["signal1"] and bank.calls == [["A@01"]]
    assert logic.notify_at() == logic.next_tick  # nothing held: back to the tick schedule


def test_held_input_survives_a_snapshot_and_end_of_input():
    logic, bank = _logic(rows=1000, wait_ms=10_000)
    logic.on_batch([(0, _cols(("A", 1), ("B", 2)))])
    state = logic.snapshot()
    assert bank.calls == []
    restored = bank_builder(
        lambda _: bank, timedelta(seconds=60), gather=Gather(1000, timedelta(seconds=10))
    )(state)
    out, _ = restored.on_eof()
    assert "signal1" in list(out) and bank.calls == [["A@01", "B@02"]]


def test_without_gather_every_batch_goes_straight_to_the_bank():
    bank = Recorder()
    logic = BankLogic(lambda _: bank, timedelta(seconds=60))
    out, _ = logic.on_batch([(0, _cols(("A", 2))), (1, _cols(("B", 1), partition=1))])
    assert list(out) == ["signal1"] and bank.calls == [["B@01", "A@02"]]


def test_a_restored_bank_adopts_the_configuration_once_before_input_or_ticks():
    adopted: list[datetime] = []

    def adopt(bank, now):
        adopted.append(now)
        return ["adopt-signal"]

    build = bank_builder(
        lambda _: Recorder(),
        timedelta(seconds=60),
        gather=Gather(1, timedelta(0), ()),
        adopt=adopt,
    )
    fresh = build(None)
    out, _ = fresh.on_batch([(0, _cols(("A", 1)))])
    assert list(out) == ["signal1"] and adopted == []  # a fresh bank is built current
    restored = build(fresh.snapshot())
    out, _ = restored.on_notify()
    assert list(out) == ["adopt-signal"] and len(adopted) == 1
    assert timedelta(0) <= adopted[0] - (T0 + timedelta(minutes=1)) < timedelta(seconds=5)
    out, _ = restored.on_batch([(0, _cols(("A", 2)))])
    assert list(out) == ["signal2"] and len(adopted) == 1


class Counter:
    """An ordered bank (records in, their count out)."""

    def process(self, items: list) -> list[str]:
        return [f"{len(items)} item(s)"]

    def tick(self, now: datetime) -> list:
        return []


def test_an_ordered_restored_bank_adopts_once_too():
    adopted = []
    build = bank_builder(
        lambda _: Counter(),
        timedelta(seconds=60),
        ordered={"max_wait": timedelta(0)},
        adopt=lambda bank, now: adopted.append(now) or ["adopt-signal"],
    )
    reading = TrafficReading("A", "A", "N", T0, 60, 1.0, 2.0, 3.0)
    fresh = build(None)
    assert list(fresh.on_batch([(0, reading)])[0]) == ["1 item(s)"] and adopted == []
    restored = build(fresh.snapshot())
    assert list(restored.on_batch([(0, reading)])[0]) == ["adopt-signal", "1 item(s)"]
    assert list(restored.on_notify()[0]) == [] and len(adopted) == 1
