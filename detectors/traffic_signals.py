"""Turning the traffic bank's numbers into signals an operator understands at a glance.

Every signal says what, where (intersection, approach, road), how unusual compared with normal
for this time, and since when (local HH:MM). Episodes are named by the detector and the local
start time, so the same input always gives the same episode ids.

>>> from zoneinfo import ZoneInfo
>>> from kendali.city import Detector
>>> d = Detector("D1", "A01", "Simpang Klandasan", "EB", "Jl. Sudirman", -1.27, 116.83,
...              50.0, 1800.0, None, None)
>>> m = SignalMaker({"D1": d}, ZoneInfo("Asia/Makassar"))
>>> m.where("D1")
'Simpang Klandasan EB approach (Jl. Sudirman)'
>>> m.severity(12.0, [85.0, 5.0, 300.0], [20.0, 40.0, 900.0])
4
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

import numpy as np

from detectors.faults import FAULT_NAMES, describe
from kendali.city import Detector
from kendali.records import CAP_SEVERITY, Signal, TrafficReading

__all__ = ["CATEGORIES", "SignalMaker"]

#: Incident category codes of the bank: what the line says, and the signal's category.
CATEGORIES = (
    ("Possible incident", "traffic_incident", "Possible"),
    ("Incident (traffic normal downstream)", "traffic_incident", "Likely"),
    ("Congestion (queue from downstream)", "congestion", "Likely"),
    ("Unusual flow (more vehicles than usual)", "congestion", "Possible"),
    ("Unusual flow (fewer vehicles than usual)", "traffic_incident", "Possible"),
)
_UNITS = (("occupancy", "%"), ("speed", " km/h"), ("flow", " veh/h"))


class SignalMaker:
    """Builds :class:`~kendali.records.Signal` objects for one city's detectors."""

    def __init__(self, detectors: Mapping[str, Detector], tz: tzinfo, z_open: float = 4.0):
        self.detectors = detectors
        self.tz = tz
        self.z_open = z_open

    def where(self, det_id: str) -> str:
        d = self.detectors[det_id]
        return f"{d.intersection_name} {d.approach} approach ({d.road})"

    def local(self, epoch: int) -> datetime:
        return datetime.fromtimestamp(epoch, UTC).astimezone(self.tz)

    def severity(self, z: float, x, usual) -> int:
        """CAP severity index (1 Minor .. 4 Extreme) from the z-score and how bad traffic is."""
        occ, speed = float(x[0]), float(x[1])
        crawling = speed < 0.25 * float(usual[1]) if not np.isnan(speed) else False
        if z >= 10 and (crawling or occ >= 60):
            return 4
        return 3 if z >= 10 else 2 if z >= 6 else 1

    def incident(
        self, r: TrafficReading, x, usual, z: float, state: str, start: int, sev: int, cat: int
    ) -> Signal:
        what, category, certainty = CATEGORIES[cat]
        since = self.local(start)
        local = r.ts.astimezone(self.tz)
        kind = "weekends" if local.weekday() >= 5 else "weekdays"
        parts = [
            f"{name} {x[i]:.0f}{unit} vs usual {usual[i]:.0f}{unit}"
            for i, (name, unit) in enumerate(_UNITS)
            if not np.isnan(x[i]) and (i < 2 or np.isnan(x[0]))
        ]
        line = (
            f"{what} at {self.where(r.detector_id)}: {', '.join(parts)} for {kind} "
            f"{local:%H}:00, since {since:%H:%M}"
        )
        details = {"z": round(z, 2), "interval_s": r.interval_s, "category_code": cat}
        for i, (name, _) in enumerate(_UNITS):
            if not np.isnan(x[i]):
                details[name] = round(float(x[i]), 2)
                details[f"usual_{name}"] = round(float(usual[i]), 2)
        return self._signal(
            r.detector_id, "incident", category, self._episode(r.detector_id, since), state,
            r.ts, min(1.0, 1.0 - 2.0 ** (-z / self.z_open)), CAP_SEVERITY[sev], line,
            certainty, details,
        )  # fmt: skip

    def incident_clear(self, det_id: str, start: int, cat: int, ts: datetime) -> Signal:
        since = self.local(start)
        what = CATEGORIES[cat][0].split(" (")[0]
        line = (
            f"Cleared: {what.lower()} at {self.where(det_id)} since {since:%H:%M}, "
            f"traffic back to normal at {ts.astimezone(self.tz):%H:%M}"
        )
        return self._signal(
            det_id, "incident", CATEGORIES[cat][1], self._episode(det_id, since), "clear", ts,
            0.0, "Minor", line, CATEGORIES[cat][2], {"category_code": cat},
        )  # fmt: skip

    def fault(self, det_id: str, code: int, start: int, ts: datetime) -> Signal:
        since = self.local(start)
        line = (
            f"Detector fault at {self.where(det_id)}: {describe(code)} since {since:%H:%M} "
            f"(maintenance, not traffic)"
        )
        return self._signal(
            det_id, "fault", "detector_fault", self._episode(det_id, since, "fault"), "open",
            ts, 1.0 if code == 3 else 0.8, "Minor", line, "Observed",
            {"fault": FAULT_NAMES[code]},
        )  # fmt: skip

    def fault_clear(self, det_id: str, code: int, start: int, ts: datetime) -> Signal:
        since = self.local(start)
        line = (
            f"Detector at {self.where(det_id)} working again at {ts.astimezone(self.tz):%H:%M} "
            f"({describe(code)} since {since:%H:%M})"
        )
        return self._signal(
            det_id, "fault", "detector_fault", self._episode(det_id, since, "fault"), "clear",
            ts, 0.0, "Minor", line, "Observed", {"fault": FAULT_NAMES[code]},
        )  # fmt: skip

    def _episode(self, det_id: str, since: datetime, tag: str = "") -> str:
        return f"atcs:{det_id}:{tag + ':' if tag else ''}{since.isoformat()}"

    def _signal(
        self, det_id, kind, category, episode, state, ts, score, severity, line, certainty, details
    ) -> Signal:
        d = self.detectors[det_id]
        return Signal(
            source="traffic",
            kind=kind,
            category=category,
            key=f"atcs:{det_id}",
            episode=episode,
            state=state,
            ts=ts,
            lat=d.lat,
            lon=d.lon,
            score=round(float(score), 4),
            severity=severity,
            explanation=line,
            evidence=(f"atcs:{det_id}@{ts.isoformat()}",),
            urgency="Immediate" if kind == "incident" else "Expected",
            certainty=certainty,
            details=details,
        )
