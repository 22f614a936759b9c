"""What each detector said about its own traffic at its last few readings, by event time.

An upstream detector's incident is confirmed (or explained as a queue) by its downstream
neighbour *at the same time*. Readings of the two detectors may come through different Kafka
partitions, so when the upstream one is judged the neighbour may already be a few intervals ahead,
or not yet there. :class:`NeighbourLog` keeps the last ``depth`` (time, verdict) pairs of every
detector so the verdict for a given time can be looked up whatever the arrival order, and says
when it cannot be known yet (the neighbour has not reported that time).

Verdicts are the bank's category codes: 0 no confirmation (faulty, suspect or no data), 1 normal
(an incident in between is likely), 2 also anomalous (a queue from further on).

>>> log = NeighbourLog(slots=1)
>>> log.record(0, 600, 1)
>>> log.verdict(0, 900, span=900) is None, log.verdict(0, 900, span=900, final=True)
(True, 1)
>>> log.record(0, 1200, 2)
>>> log.verdict(0, 900, span=900), log.verdict(0, 1200, span=900)
(1, 2)
"""

from __future__ import annotations

import numpy as np

__all__ = ["NeighbourLog"]


class NeighbourLog:
    """Per-slot ring of the last ``depth`` (epoch, verdict) pairs, newest first."""

    def __init__(self, slots: int, depth: int = 4) -> None:
        self.ts = np.zeros((slots, depth), np.int64)
        self.code = np.zeros((slots, depth), np.int8)

    def grow(self, slots: int) -> None:
        """Make room for ``slots`` detectors in total (new ones have no history)."""
        extra = slots - len(self.ts)
        if extra > 0:
            self.ts = np.concatenate([self.ts, np.zeros((extra, self.ts.shape[1]), np.int64)])
            self.code = np.concatenate([self.code, np.zeros((extra, self.code.shape[1]), np.int8)])

    def record(self, slot: int, epoch: int, code: int) -> None:
        """Remember that ``slot`` read ``code`` at ``epoch`` (readings come in time order)."""
        self.ts[slot, 1:], self.code[slot, 1:] = self.ts[slot, :-1], self.code[slot, :-1]
        self.ts[slot, 0], self.code[slot, 0] = epoch, code

    def record_many(self, slots: np.ndarray, epochs: np.ndarray, code: int) -> None:
        """:meth:`record` for many distinct slots at once, all with the same verdict."""
        self.ts[slots, 1:], self.code[slots, 1:] = self.ts[slots, :-1], self.code[slots, :-1]
        self.ts[slots, 0], self.code[slots, 0] = epochs, code

    def verdict(self, slot: int, epoch: int, span: int, final: bool = False) -> int | None:
        """Verdict of ``slot``'s latest reading at or before ``epoch`` and at most ``span``
        seconds older; ``None`` while it may still change, that is while the slot has not
        reported ``epoch`` or later (unless ``final``) and is not silent for ``span`` already."""
        ts = self.ts[slot]
        if ts[0] == 0 or ts[0] < epoch - span:
            return 0  # never reported, or gone quiet: nothing to confirm with
        if ts[0] < epoch and not final:
            return None
        for when, code in zip(ts, self.code[slot], strict=True):
            if 0 < when <= epoch:
                return int(code) if epoch - when <= span else 0
        return 0  # the neighbour is further ahead than the log reaches
