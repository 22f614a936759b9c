"""Sensor faults for the simulator: a stuck sensor repeats one reading, a silent one sends none.

>>> from datetime import datetime, timezone
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> book = FaultBook([("D1", "stuck", t0, t0.replace(hour=1))])
>>> book.hold("D1", t0, (5, 1.0)), book.hold("D1", t0.replace(minute=5), (9, 2.0))
((5, 1.0), (5, 1.0))
>>> book.hold("D1", t0.replace(hour=2), (7, 3.0)), book.hold("D2", t0, (1, 1.0))
((7, 3.0), (1, 1.0))
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

__all__ = ["FaultBook"]

V = TypeVar("V")


class FaultBook:
    """Planned faults as (sensor, kind, start, end); remembers the values a stuck sensor repeats."""

    def __init__(self, faults: list[tuple[str, str, datetime, datetime]]) -> None:
        self.faults = list(faults)
        self._sensors = {f[0] for f in self.faults}
        self._stuck: dict[str, object] = {}

    def kind(self, sensor: str, ts: datetime) -> str | None:
        """``"stuck"``, ``"silent"`` or ``None`` for a sensor at a time."""
        if sensor in self._sensors:
            for name, kind, start, end in self.faults:
                if name == sensor and start <= ts < end:
                    return kind
        return None

    def hold(self, sensor: str, ts: datetime, values: V) -> V | None:
        """The values to report: as measured, frozen (stuck) or ``None`` (silent)."""
        kind = self.kind(sensor, ts)
        if kind == "silent":
            return None
        if kind == "stuck":
            return self._stuck.setdefault(sensor, values)  # type: ignore[return-value]
        self._stuck.pop(sensor, None)
        return values
