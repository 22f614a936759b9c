"""Telling a broken detector from unusual traffic: stuck, impossible, all-zero or silent loops.

A fault is a maintenance ticket, never a traffic incident. :class:`FaultTracker` keeps a few
small numpy arrays per detector slot and answers, for each reading, which fault (if any) the
detector is in now. The traffic bank turns changes of that answer into ``detector_fault``
signals and stops scoring traffic on a faulty detector.

>>> import numpy as np
>>> t = FaultTracker(slots=1, stuck_after=3)
>>> [t.observe(0, np.array([12.0, 40.0, 300.0]), usual_volume=300.0, limits=(60.0, 1800.0))
...  for _ in range(4)]
[0, 0, 2, 2]
>>> FAULT_NAMES[2]
'stuck'
"""

from __future__ import annotations

import numpy as np

__all__ = ["FAULT_NAMES", "FaultTracker"]

#: Fault codes (index) and their names; 0 means healthy.
FAULT_NAMES = ("ok", "silent", "stuck", "impossible", "zeros")
SILENT, STUCK, IMPOSSIBLE, ZEROS = 1, 2, 3, 4

_WHY = {
    SILENT: "no data",
    STUCK: "the same values repeated",
    IMPOSSIBLE: "physically impossible values",
    ZEROS: "zero counts where traffic is usual",
}


def describe(code: int) -> str:
    """What an operator reads for a fault code.

    >>> describe(4)
    'zero counts where traffic is usual'
    """
    return _WHY[code]


class FaultTracker:
    """Per-slot fault state machine with hysteresis (``recover_after`` good readings clear it).

    Args:
        slots: number of detectors.
        stuck_after: identical non-zero readings in a row that make a detector "stuck".
        zeros_after: zero-volume readings in a row, at a time when the usual volume is at least
            ``zeros_min_usual`` vehicles per hour, that make it "all zeros".
        recover_after: good readings in a row that close a fault.
    """

    def __init__(
        self,
        slots: int,
        stuck_after: int = 8,
        zeros_after: int = 4,
        zeros_min_usual: float = 200.0,
        recover_after: int = 3,
    ) -> None:
        self.stuck_after = stuck_after
        self.zeros_after = zeros_after
        self.zeros_min_usual = zeros_min_usual
        self.recover_after = recover_after
        self.code = np.zeros(slots, np.int8)
        self.since = np.zeros(slots, np.int64)
        self._same = np.zeros(slots, np.int16)
        self._zeros = np.zeros(slots, np.int16)
        self._good = np.zeros(slots, np.int16)
        self._last = np.full((slots, 3), np.nan, np.float32)

    def grow(self, slots: int) -> None:
        """Make room for ``slots`` detectors in total."""
        extra = slots - len(self.code)
        if extra <= 0:
            return
        for name in ("code", "since", "_same", "_zeros", "_good"):
            arr = getattr(self, name)
            setattr(self, name, np.concatenate([arr, np.zeros(extra, arr.dtype)]))
        self._last = np.concatenate([self._last, np.full((extra, 3), np.nan, np.float32)])

    def observe(
        self, slot: int, x: np.ndarray, usual_volume: float, limits: tuple[float, float]
    ) -> int:
        """Fault code after reading ``x`` = (occupancy %, speed km/h, volume veh/h), NaN = absent.

        ``usual_volume`` is the baseline's volume for this time (veh/h, NaN if unknown) and
        ``limits`` the detector's (speed limit km/h, capacity veh/h).
        """
        found = self._instant(slot, x, usual_volume, limits)
        if found:
            self._good[slot] = 0
            if self.code[slot] in (0, SILENT) or found == IMPOSSIBLE:
                self.code[slot] = found
            return int(self.code[slot])
        if self.code[slot] == SILENT:
            self.code[slot] = 0
        if self.code[slot]:
            self._good[slot] += 1
            if self._good[slot] >= self.recover_after:
                self.code[slot] = 0
        return int(self.code[slot])

    def observe_calm(
        self, slots: np.ndarray, x: np.ndarray, usual_volume: np.ndarray, limits: np.ndarray
    ) -> np.ndarray:
        """Vectorised :meth:`observe` of rows with distinct ``slots`` for the common case.

        Rows whose detector is healthy and stays healthy and not :meth:`suspect` after the
        reading are observed (same state as :meth:`observe`); the mask of those rows is returned
        and every other row is left untouched, for the caller to :meth:`observe` one by one.
        ``limits`` holds one (speed limit, capacity) row per reading.

        >>> t = FaultTracker(slots=2)
        >>> x = np.array([[12.0, 40.0, 300.0], [10.0, 999.0, 300.0]], np.float32)
        >>> t.observe_calm(np.array([0, 1]), x, np.array([300.0, 300.0]),
        ...                np.array([[60.0, 1800.0], [60.0, 1800.0]])).tolist()
        [True, False]
        """
        occ, speed, vol = (x[:, i].astype(np.float64) for i in range(3))
        impossible = (
            (speed > 2.5 * limits[:, 0]) | (vol > 2.5 * limits[:, 1]) | ((vol == 0) & (occ >= 90))
        )
        last = self._last[slots]
        repeat = ((last == x) | (np.isnan(last) & np.isnan(x))).all(axis=1)
        same = np.where(repeat & (np.nansum(np.abs(x), axis=1) > 0), self._same[slots] + 1, 0)
        zero = (vol == 0) & ~(occ > 0) & (usual_volume >= self.zeros_min_usual)
        calm = (self.code[slots] == 0) & ~impossible & (same < min(2, self.stuck_after - 1)) & ~zero
        rows = slots[calm]
        self._same[rows], self._last[rows], self._zeros[rows] = same[calm], x[calm], 0
        return calm

    def suspect(self, slot: int) -> bool:
        """Whether the detector is on its way to a stuck or zeros fault (hold traffic scoring)."""
        return bool(self._same[slot] >= 2 or self._zeros[slot] > 0)

    def _instant(self, slot: int, x: np.ndarray, usual: float, limits: tuple[float, float]) -> int:
        occ, speed, vol = (float(v) for v in x)
        speed_limit, capacity = limits
        if speed > 2.5 * speed_limit or vol > 2.5 * capacity or (vol == 0 and occ >= 90):
            return IMPOSSIBLE
        same = np.array_equal(self._last[slot], x, equal_nan=True) and np.nansum(np.abs(x)) > 0
        self._same[slot] = self._same[slot] + 1 if same else 0
        self._last[slot] = x
        if self._same[slot] + 1 >= self.stuck_after:
            return STUCK
        zero = vol == 0 and not occ > 0
        self._zeros[slot] = self._zeros[slot] + 1 if zero and usual >= self.zeros_min_usual else 0
        if self._zeros[slot] >= self.zeros_after:
            return ZEROS
        return 0
