"""ATCS incident detection: per-detector normal-for-this-time baselines, persistence, neighbours.

:class:`TrafficBank` is the detector bank the dataflow runs for a shard of detectors. For each
reading it scores occupancy (up is bad), speed (down is bad) and volume against what is usual
*for this detector, this kind of day and this hour* (:class:`~detectors.baseline.SeasonalBaseline`),
so rush hour is not an alert. An anomaly must persist for ``persist`` intervals before an incident
opens (a blip is not an incident; after an extreme reading a merely elevated one counts) and
``clear_after`` normal intervals close it. The downstream
detector of the same link confirms it (classic California-style logic: occupancy high here while
it stays normal downstream means a blockage in between; high downstream too means a queue from
further on, reported as ``congestion``). Stuck, impossible, all-zero or silent detectors raise
``detector_fault`` tickets (:mod:`detectors.faults`) and are never scored as traffic.

Banks may be given the whole city's detectors while seeing readings of one shard only; a
neighbour whose readings this bank never sees simply gives no confirmation. Shard by
:func:`corridors` to keep links inside one shard.

>>> from datetime import datetime, timedelta
>>> from zoneinfo import ZoneInfo
>>> from kendali.city import Detector
>>> from kendali.records import TrafficReading
>>> tz = ZoneInfo("Asia/Makassar")
>>> det = Detector("D1", "A01", "Simpang Klandasan", "EB", "Jl. Sudirman", -1.27, 116.83,
...                50.0, 1800.0, None, None)
>>> bank = TrafficBank({"D1": det}, tz)
>>> t0 = datetime(2026, 11, 2, 0, 0, tzinfo=tz)
>>> def r(i, occ, spd):
...     return TrafficReading("D1", "A01", "EB", t0 + timedelta(minutes=5 * i), 300, 100.0,
...                           occ, spd)
>>> _ = bank.process([r(i, 10.0 + i % 3, 45.0 - i % 4) for i in range(14 * 288)])
>>> out = bank.process([r(14 * 288 + i, 80.0, 8.0) for i in range(3)])
>>> [(s.category, s.state, s.severity) for s in out]
[('traffic_incident', 'open', 'Extreme')]
>>> out[0].explanation.split(" vs ")[0]
'Possible incident at Simpang Klandasan EB approach (Jl. Sudirman): occupancy 80%'
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import numpy as np

from detectors.baseline import SeasonalBaseline
from detectors.faults import FaultTracker
from detectors.traffic_batch import (
    Batch,
    bins_of,
    columns_measures,
    distinct_runs,
    swapped,
    time_bin,
)
from detectors.traffic_confirm import NeighbourLog
from detectors.traffic_signals import SignalMaker
from kendali.city import Detector
from kendali.columns import TrafficColumns, codes
from kendali.records import Signal, TrafficReading

__all__ = ["TrafficBank", "TrafficParams", "corridors", "time_bin"]

OCC, SPEED, VOL = 0, 1, 2
#: Per-detector state arrays of a bank: (attribute, dtype, initial value).
_PER_SLOT = (
    ("_last_ts", np.int64, 0),
    ("_interval", np.int32, 300),
    ("_z", np.float32, 0),
    ("_recent", np.uint8, 0),
    ("_peak", np.uint8, 0),  # which of the recent intervals were extreme
    ("_run_good", np.int16, 0),
    ("_cand", np.int64, 0),
    ("_open", np.int64, 0),
    ("_sev", np.int8, 0),
    ("_cat", np.int8, 0),
)
#: Direction in which each measure is bad: occupancy up, speed down.
_SIGN = np.array([1.0, -1.0, 0.0], np.float32)


@dataclass(frozen=True, slots=True)
class TrafficParams:
    """Tuning of the traffic bank; defaults suit 1-15 minute ATCS/SCATS intervals."""

    z_open: float = 4.0
    #: A reading this far beyond the usual (a Moderate alert's z), on every measure the detector
    #: has (occupancy up and speed down agreeing), lowers the bar for the next readings in the
    #: window to ``z_support``: a dip that recovers at once may still open an incident.
    z_extreme: float = 6.0
    z_support: float = 2.0
    persist: int = 2
    window: int = 3
    clear_after: int = 3
    silence_s: int = 900
    relearn_after_s: int = 3 * 3600
    alpha: float = 0.1
    alpha_global: float = 0.02
    min_count: int = 12
    floors: tuple[float, float, float] = (2.0, 3.0, 40.0)
    stuck_after: int = 8
    zeros_after: int = 4


def corridors(detectors: Mapping[str, Detector]) -> dict[str, str]:
    """Corridor id (smallest detector id of its linked chain) per detector, for sharding.

    >>> d = lambda i, up, down: Detector(i, "", "", "", "", 0, 0, 50, 1800, up, down)
    >>> corridors({"B": d("B", "A", None), "A": d("A", None, "B"), "C": d("C", None, None)})
    {'B': 'A', 'A': 'A', 'C': 'C'}
    """
    parent = {k: k for k in detectors}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for det in detectors.values():
        for link in (det.upstream, det.downstream):
            if link in parent:
                a, b = sorted((find(det.id), find(link)))
                parent[b] = a
    return {k: find(k) for k in detectors}


class TrafficBank:
    """Detector bank for ATCS readings of any subset of a city's detectors (see module doc)."""

    def __init__(
        self, detectors: Mapping[str, Detector], tz: tzinfo, params: TrafficParams | None = None
    ) -> None:
        self.detectors = dict(detectors)
        self.tz = tz
        self.params = params or TrafficParams()
        p = self.params
        self._slot = {det_id: i for i, det_id in enumerate(sorted(self.detectors))}
        self._ids = sorted(self.detectors)
        n = len(self._ids)
        self._base = SeasonalBaseline(
            n, 48, 3, p.floors, alpha=p.alpha, alpha_global=p.alpha_global, min_count=p.min_count,
            fallback=False,
        )  # fmt: skip
        self._faults = FaultTracker(n, stuck_after=p.stuck_after, zeros_after=p.zeros_after)
        for name, dtype, fill in _PER_SLOT:
            setattr(self, name, np.full(n, fill, dtype))
        self._log = NeighbourLog(n)
        self._configure(self.detectors)
        #: Incident signals waiting for the downstream neighbour's reading of the same time.
        self._pending: dict[int, tuple[TrafficReading, np.ndarray, np.ndarray, str]] = {}
        #: Slot of each detector number (see :meth:`number`), -1 for detectors not held here.
        self._slot_by_code: np.ndarray | None = None

    def number(self, codes: Mapping[str, int]) -> None:
        """Find readings' slots by the detector numbers the router gives them
        (``TrafficColumns.code``). Not kept in snapshots: numbers follow the city's current
        list, so a restored bank is numbered again when it adopts that list.
        """
        table = np.full(max(codes.values(), default=-1) + 1, -1, np.int64)
        for det_id, slot in self._slot.items():
            if det_id in codes:
                table[codes[det_id]] = slot
        self._slot_by_code = table

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_slot_by_code": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"_slot_by_code": None, **state})  # snapshots from before numbers

    def _configure(self, current: Mapping[str, Detector]) -> None:
        """What follows from the detectors' configuration: limits, links, names. Links only
        join ``current`` detectors (not ones retired by :meth:`adopt`)."""
        self._signals = SignalMaker(self.detectors, self.tz, self.params.z_open)
        dets = [self.detectors[i] for i in self._ids]
        limits = [(d.speed_limit_kmh, d.capacity_vph) for d in dets]
        self._limits = np.array(limits, np.float64).reshape(len(dets), 2)
        alive = [self._slot.get(d.id) == slot and d.id in current for slot, d in enumerate(dets)]
        linked = [ok and d.downstream in current for d, ok in zip(dets, alive, strict=True)]
        down = [self._slot[d.downstream] if ok else -1 for d, ok in zip(dets, linked, strict=True)]
        self._down = np.array(down, np.int64)
        self._up: dict[int, list[int]] = {}
        for slot in np.flatnonzero(self._down >= 0):
            self._up.setdefault(int(self._down[slot]), []).append(int(slot))

    def adopt(self, detectors: Mapping[str, Detector], now: datetime) -> list[Signal]:
        """Take the city's current detectors for this bank (after a restart from a snapshot
        taken under an older configuration); returns the signals that closes.

        New detectors get slots of their own and start learning; changed ones take their new
        limits, links and names; detectors no longer given are retired: their open incident
        and fault are cleared as of ``now``, they are never reported silent, and their readings
        are ignored (the router no longer sends them here: the city dropped them, or their
        corridor moved to another shard). A detector given again later starts afresh.

        >>> from zoneinfo import ZoneInfo
        >>> d = lambda i: Detector(i, "A", "Simpang", "N", "Jl", -1.2, 116.8, 50, 1800, None, None)
        >>> bank = TrafficBank({"D1": d("D1")}, ZoneInfo("Asia/Makassar"))
        >>> bank.adopt({"D2": d("D2")}, datetime(2026, 11, 28, tzinfo=ZoneInfo("UTC")))
        []
        >>> sorted(bank._slot), bank._ids  # D1 keeps its arrays' row, retired
        (['D2'], ['D1', 'D2'])
        """
        out: list[Signal] = []
        self._slot_by_code = None  # slots change: numbered again by the caller
        for det_id in sorted(set(self._slot) - set(detectors)):
            slot = self._slot.pop(det_id)  # its readings are ignored from now on
            self._pending.pop(slot, None)
            out += self._close_incident(slot, now)
            out += self._fault_change(slot, int(self._faults.code[slot]), 0, now)
            self._faults.code[slot] = 0
            self._last_ts[slot] = 0  # never "silent"
        new = sorted(set(detectors) - set(self._slot))
        if new:
            n = len(self._ids) + len(new)
            self._slot.update({det_id: len(self._ids) + k for k, det_id in enumerate(new)})
            self._ids += new
            self._base.grow(n)
            self._faults.grow(n)
            self._log.grow(n)
            for name, dtype, fill in _PER_SLOT:
                old = getattr(self, name)
                setattr(self, name, np.concatenate([old, np.full(n - len(old), fill, dtype)]))
        self.detectors.update(detectors)
        self._configure(detectors)
        return out

    def process(self, readings: Sequence[TrafficReading] | TrafficColumns) -> list[Signal]:
        """Score and learn readings in order; unknown detectors are ignored.

        The batch is cut into runs of readings of distinct detectors. In each run the quiet
        readings (healthy, not suspect, not anomalous, no incident under way) are scored and
        learned with whole-array operations; the others go through the per-reading path in
        batch order, so the signals and state are those of reading one at a time.
        """
        cols = (
            readings if type(readings) is TrafficColumns else TrafficColumns.from_readings(readings)
        )
        table, code = self._slot_by_code, cols.code
        if table is not None and len(code) and code.min() >= 0 and code.max() < len(table):
            slots = table[code]  # numbered by the router: no dictionary lookup per reading
        else:
            slots = codes(self._slot, cols.ids.tolist())
        if not (slots >= 0).all():
            cols, slots = cols.take(slots >= 0), slots[slots >= 0]
        if not len(slots):
            return []
        epoch = cols.t.astype(np.int64)
        batch = Batch(cols, slots, epoch, bins_of(epoch, self.tz), columns_measures(cols))
        out: list[Signal] = []
        for start, end in distinct_runs(slots):
            out.extend(self._run(batch, start, end))
        return out

    def tick(self, now: datetime) -> list[Signal]:
        """Open a ``silent`` fault for every detector quiet for longer than ``silence_s``; send
        incident signals still waiting for a neighbour two intervals after their reading."""
        epoch = int(now.timestamp())
        out = []
        for slot, (r, *_) in sorted(self._pending.items()):
            if epoch - int(r.ts.timestamp()) >= 2 * r.interval_s:  # the neighbour is late too
                out.extend(self._resolve(slot))
        limit = np.maximum(self.params.silence_s, 3 * self._interval)
        quiet = (self._last_ts > 0) & (epoch - self._last_ts > limit) & (self._faults.code == 0)
        for slot in np.flatnonzero(quiet):
            self._faults.code[slot] = 1
            self._faults.since[slot] = self._last_ts[slot]
            out.append(self._signals.fault(self._ids[slot], 1, int(self._last_ts[slot]), now))
            out.extend(self._close_incident(int(slot), now))
        return out

    def _run(self, batch: Batch, start: int, end: int) -> list[Signal]:
        """Process readings of distinct detectors: quiet ones at once, the rest one by one."""
        s, epoch = batch.slots[start:end], batch.epoch[start:end]
        b, x = batch.bins[start:end], batch.x[start:end]
        zrows, loc = self._base.assess(s, b, x)
        z = self._combine_rows(zrows)
        quiet = (
            (epoch > self._last_ts[s]) & (z < self.params.z_open) & (self._open[s] == 0)
            & (self._recent[s] == 0)
        )  # fmt: skip
        if self._pending:
            quiet &= ~np.isin(s, self._waiting())
        fast = np.flatnonzero(quiet)
        calm = self._faults.observe_calm(s[fast], x[fast], loc[fast, VOL], self._limits[s[fast]])
        fast = fast[calm]
        iv = batch.cols.interval[start:end][fast]
        before = self._learn_quiet(s[fast], epoch[fast], iv, b[fast], x[fast], z[fast])
        taken = np.zeros(end - start, bool)
        taken[fast] = True
        slow = np.flatnonzero(~taken).tolist()
        if not slow:
            return []
        row_of = np.full(len(self._ids), -1, np.int64)  # each slot's row in ``fast``, or -1
        row_of[s[fast]] = np.arange(len(fast))
        out: list[Signal] = []
        due: list[tuple[int, int]] = []  # (batch index of the neighbour's reading, slot)
        for i in slow:
            while due and due[0][0] < i:
                out.extend(self._resolve(heapq.heappop(due)[1]))
            slot = int(s[i])
            place = self.detectors[self._ids[slot]]  # the columns do not carry the message's
            r = batch.cols.reading(start + i, place.intersection, place.approach)
            down = int(self._down[slot])
            k = int(row_of[down]) if down >= 0 else -1
            hit = int(fast[k]) if k >= 0 else -1
            if hit < i:
                out.extend(self._step(slot, r))
                continue
            # the neighbour's reading comes later in the batch: judge on its log before it
            with swapped(self._log, down, {name: v[k] for name, v in before.items()}):
                out.extend(self._step(slot, r))
            if slot in self._pending and self._verdict(slot) is not None:
                heapq.heappush(due, (hit, slot))
        while due:
            out.extend(self._resolve(heapq.heappop(due)[1]))
        return out

    def _waiting(self) -> list[int]:
        """Slots whose readings must take the per-reading path: those with a pending signal and
        the neighbours it waits for."""
        return [*self._pending, *(int(self._down[slot]) for slot in self._pending)]

    def _learn_quiet(self, s, epoch, iv, b, x, z) -> dict[str, np.ndarray]:
        """Apply quiet readings (distinct slots) at once; returns the neighbour log rows they
        replaced, per slot, so that an earlier reading can be judged on them."""
        before = {name: getattr(self._log, name)[s].copy() for name in ("ts", "code")}
        self._log.record_many(s, epoch, 1)
        self._last_ts[s], self._interval[s], self._z[s] = epoch, iv, z
        self._run_good[s] += 1
        self._base.learn_distinct(s, b, x)
        return before

    def _step(self, slot: int, r: TrafficReading) -> list[Signal]:
        """One reading: a signal of the previous one still pending goes first (the neighbour
        is late), then the reading, then pending signals of upstream detectors it settles."""
        out = []
        if slot in self._pending and int(r.ts.timestamp()) > self._last_ts[slot]:
            out = self._resolve(slot)
        out += self._one(slot, r)
        for up in self._up.get(slot, ()):
            if up in self._pending and self._verdict(up) is not None:
                out += self._resolve(up)
        return out

    def _one(self, slot: int, r: TrafficReading) -> list[Signal]:
        det = self.detectors[r.detector_id]
        epoch = int(r.ts.timestamp())
        if epoch <= self._last_ts[slot]:
            return []  # duplicate or out-of-order reading: the baseline only moves forward
        self._last_ts[slot], self._interval[slot] = epoch, r.interval_s
        x = _measures(r)
        b = np.array([time_bin(r.ts, self.tz)])
        s = np.array([slot])
        loc, _ = self._base.expected(s, b)
        before = int(self._faults.code[slot])
        code = self._faults.observe(
            slot, x, float(loc[0, VOL]), (det.speed_limit_kmh, det.capacity_vph)
        )
        out = self._fault_change(slot, before, code, r.ts)
        if code or self._faults.suspect(slot):
            self._log.record(slot, epoch, 0)  # no confirmation for a neighbour either
            return out + (self._close_incident(slot, r.ts) if code else [])
        zrow = self._base.score(s, b, x[None, :])[0]
        self._z[slot] = self._combine(zrow)
        self._log.record(slot, epoch, 2 if self._z[slot] >= self.params.z_open else 1)
        age = epoch - self._open[slot] if self._open[slot] else 0
        if self._z[slot] < self.params.z_open or age > self.params.relearn_after_s:
            self._base.learn(s, b, x[None, :])
        return out + self._incident(slot, r, x, loc[0], self._agreed(zrow))

    def _combine(self, z: np.ndarray) -> float:
        """Badness of a reading: occupancy up or speed down; volume (either way) only for
        count-only detectors, since less traffic at normal speed is just a quiet day."""
        if np.isnan(z[OCC]) and np.isnan(z[SPEED]):
            return float(abs(np.nan_to_num(z[VOL])))
        return float(max(np.nan_to_num(z * _SIGN).max(), 0.0))

    def _agreed(self, z: np.ndarray) -> float:
        """Badness on which occupancy and speed agree (the smaller of the two where both are
        measured); 0 for count-only detectors, whose flow alone cannot tell a blockage."""
        bad = (z * _SIGN)[:VOL]
        bad = bad[~np.isnan(bad)]
        return float(bad.min()) if bad.size else 0.0

    def _combine_rows(self, z: np.ndarray) -> np.ndarray:
        """:meth:`_combine` of many rows at once."""
        both = np.isnan(z[:, OCC]) & np.isnan(z[:, SPEED])
        worst = np.fmax(np.fmax.reduce(z * _SIGN, axis=1), 0.0)  # fmax: NaN counts as absent
        return np.where(both, np.fmax(np.abs(z[:, VOL]), 0.0), worst).astype(np.float32)

    def _fault_change(self, slot: int, before: int, code: int, ts: datetime) -> list[Signal]:
        if code == before:
            return []
        det_id, epoch = self._ids[slot], int(ts.timestamp())
        out = []
        if before:
            since = int(self._faults.since[slot])
            out.append(self._signals.fault_clear(det_id, before, since, ts))
        if code:
            self._faults.since[slot] = epoch
            out.append(self._signals.fault(det_id, code, epoch, ts))
        return out

    def _incident(
        self, slot: int, r: TrafficReading, x: np.ndarray, usual, agreed: float
    ) -> list[Signal]:
        """Persistence: ``persist`` anomalous intervals of the last ``window`` open an incident.
        Until one is open, after an extreme reading (``agreed`` badness >= ``z_extreme``) a
        reading above ``z_support`` counts as anomalous too: a real dip that recovers in one
        interval still leaves traffic off its usual, while a lone extreme blip falls straight
        back. Closing is unchanged (``clear_after`` readings below ``z_open``)."""
        p, z, epoch = self.params, float(self._z[slot]), int(r.ts.timestamp())
        mask = (1 << p.window) - 1
        after_peak = ((int(self._peak[slot]) << 1) & mask) > 0 and not self._open[slot]
        bad = z >= p.z_open or (after_peak and z >= p.z_support)
        if bad and not self._recent[slot]:
            self._cand[slot] = epoch
        self._recent[slot] = ((int(self._recent[slot]) << 1) | bad) & mask
        self._peak[slot] = ((int(self._peak[slot]) << 1) | (agreed >= p.z_extreme)) & mask
        self._run_good[slot] = 0 if bad else self._run_good[slot] + 1
        if not self._open[slot]:
            if int(self._recent[slot]).bit_count() >= p.persist:
                self._open[slot] = self._cand[slot]
                return self._announce(slot, r, x, usual, "open")
            return []
        if self._run_good[slot] >= p.clear_after:
            return self._close_incident(slot, r.ts)
        if z >= p.z_open:
            return self._announce(slot, r, x, usual, "update")
        return []

    def _announce(self, slot: int, r: TrafficReading, x, usual, state: str, final: bool = False):
        """Signal an opening incident, or a change of severity or category of an open one, once
        the downstream neighbour's reading of the same time is known (else keep it pending)."""
        cat = self._category(slot, x, usual, r, final)
        if cat is None:
            self._pending[slot] = (r, x, usual, state)
            return []
        z = float(self._z[slot])
        sev = self._signals.severity(z, x, usual)
        if state == "update" and sev == self._sev[slot] and cat == self._cat[slot]:
            return []
        self._sev[slot], self._cat[slot] = sev, cat
        return [self._signals.incident(r, x, usual, z, state, int(self._open[slot]), sev, cat)]

    def _resolve(self, slot: int) -> list[Signal]:
        """Send a pending signal with what the neighbour has said by now."""
        return self._announce(slot, *self._pending.pop(slot), final=True)

    def _verdict(self, slot: int, final: bool = False) -> int | None:
        """The neighbour's verdict for the reading a pending signal of ``slot`` is about."""
        r = self._pending[slot][0]
        epoch = int(r.ts.timestamp())
        return self._log.verdict(int(self._down[slot]), epoch, 3 * r.interval_s, final)

    def _category(self, slot: int, x, usual, r: TrafficReading, final: bool) -> int | None:
        """Code in :data:`~detectors.traffic_signals.CATEGORIES`: 0 unconfirmed incident,
        1 confirmed by a normal downstream, 2 queue from downstream (the downstream detector
        at the same time, see :mod:`detectors.traffic_confirm`; None while it is not known);
        count-only detectors say only 3 more or 4 fewer vehicles than usual."""
        if np.isnan(x[OCC]) and np.isnan(x[SPEED]):
            return 3 if x[VOL] > usual[VOL] else 4
        down = int(self._down[slot])
        if down < 0:
            return 0
        return self._log.verdict(down, int(r.ts.timestamp()), 3 * r.interval_s, final)

    def _close_incident(self, slot: int, ts: datetime) -> list[Signal]:
        start = int(self._open[slot])
        self._recent[slot] = self._peak[slot] = self._run_good[slot] = 0
        if not start:
            return []
        self._open[slot] = 0
        return [self._signals.incident_clear(self._ids[slot], start, int(self._cat[slot]), ts)]


def _measures(r: TrafficReading) -> np.ndarray:
    """(occupancy %, speed km/h, volume as veh/h) with NaN for what the detector lacks."""
    vol = np.nan if r.volume is None else r.volume * 3600.0 / max(r.interval_s, 1)
    occ = np.nan if r.occupancy is None else r.occupancy
    speed = np.nan if r.speed is None or r.volume == 0 else r.speed  # no vehicle, no speed
    return np.array([occ, speed, vol], np.float32)
