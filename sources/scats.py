"""SCATS/ATCS count exports → :class:`~kendali.records.TrafficReading`, and replay into Kafka.

Signal-control systems export detector counts as files: *wide* (one row per approach and day,
one column per time bin, like VicRoads' SCATS export) or *long* (one row per reading). This
adapter parses both into readings in time order, maps the export's site/approach onto detector
ids (``SCATS-<site>-<leg>-<road>``), builds a :class:`~kendali.city.Detector` registry from the
export's coordinates (so an export can serve as a city), and replays readings at a speed-up.

Delivery: :func:`replay` hands every reading to ``produce`` exactly once, in order; durability
is the producer's (flush it at the end).

>>> approach("WARRIGAL_RD N of HIGH STREET_RD")
('WARRIGAL_RD', 'N', 'HIGH STREET_RD')
>>> detector_id("0970", "WARRIGAL_RD N of HIGH STREET_RD")
'SCATS-0970-N-WARRIGAL_RD'
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from kendali.city import Detector
from kendali.codec import encode
from kendali.records import TrafficReading

__all__ = [
    "MELBOURNE",
    "approach",
    "detector_id",
    "read_long",
    "read_wide",
    "replay",
    "scats_detectors",
    "write_detectors_csv",
]

MELBOURNE = ZoneInfo("Australia/Melbourne")
_APPROACH = re.compile(r"^(?P<road>.+?)\s+(?P<leg>[NSEW]{1,2})\s+of\s+(?P<cross>.+)$", re.I)
_STEP = {"N": (1, 0), "S": (-1, 0), "E": (0, 1), "W": (0, -1)}


def approach(location: str) -> tuple[str, str, str]:
    """(road, leg, cross road) of a SCATS location such as ``"BURKE_RD S OF BARKERS_RD"``."""
    m = _APPROACH.match(location.strip())
    if not m:
        return location.strip(), "X", ""
    return m["road"].strip(), m["leg"].upper(), m["cross"].strip()


def detector_id(site: str, location: str) -> str:
    """Stable detector id of a SCATS site and approach."""
    road, leg, _ = approach(location)
    return f"SCATS-{site.strip()}-{leg}-{road.replace(' ', '_')}"


def _pretty(road: str) -> str:
    return road.replace("_", " ").title()


def scats_detectors(locations_csv: str | Path) -> dict[str, Detector]:
    """Detector registry from ``scats_locations.csv`` (site, location, lat, lon).

    Approaches on the same road and leg are chained: the nearest site further along the leg's
    direction (within 3 km) is upstream, the nearest one the other way downstream.
    """
    with Path(locations_csv).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dets = {}
    for row in rows:
        road, leg, cross = approach(row["location"])
        det_id = detector_id(row["scats_site"], row["location"])
        dets[det_id] = Detector(
            det_id, row["scats_site"].strip(), f"{_pretty(road)} / {_pretty(cross)}", leg,
            _pretty(road), float(row["lat"]), float(row["lon"]), 60.0, 3600.0, None, None,
        )  # fmt: skip
    return {k: _linked(d, dets) for k, d in dets.items()}


def _linked(det: Detector, dets: dict[str, Detector]) -> Detector:
    if det.approach not in _STEP:
        return det
    dy, dx = _STEP[det.approach]
    ahead, behind = [], []
    for other in dets.values():
        if other.id == det.id or other.road != det.road or other.approach != det.approach:
            continue
        along = (other.lat - det.lat) * dy + (other.lon - det.lon) * dx * math.cos(det.lat / 57.3)
        km = math.hypot(other.lat - det.lat, other.lon - det.lon) * 111.0
        if km <= 3.0:
            (ahead if along > 0 else behind).append((km, other.id))
    up = min(ahead)[1] if ahead else None
    down = min(behind)[1] if behind else None
    return dataclasses.replace(det, upstream=up, downstream=down)


def write_detectors_csv(detectors: dict[str, Detector], path: str | Path) -> int:
    """Write a registry in a city folder's ``detectors.csv`` format (see ``cities/balikpapan``),
    so that a SCATS export can be loaded as a city; returns the number of rows."""
    names = [f.name for f in dataclasses.fields(Detector)]
    header = [n if n != "id" else "detector_id" for n in names]
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for det in detectors.values():
            writer.writerow(["" if getattr(det, n) is None else getattr(det, n) for n in names])
    return len(detectors)


def read_wide(path: str | Path, tz: tzinfo = MELBOURNE) -> tuple[list[TrafficReading], list[str]]:
    """Readings of a wide export (``scats_site, location, lat, lon, date, HH:MM...``) in time
    order, and the cells refused (``"line N ..."``: a short row, a bad date, a count that is not
    a number); the rest of the file is read all the same.

    Empty cells are gaps (no reading). Bin labels are local wall-clock times in ``tz``.
    """
    out, refused = [], []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        _require(path, header, ("scats_site", "location", "date"))
        bins = [(i, h) for i, h in enumerate(header) if re.fullmatch(r"\d\d:\d\d", h)]
        step = _bin_seconds([h for _, h in bins])
        col = {h: i for i, h in enumerate(header)}
        for line, row in enumerate(reader, start=2):
            if len(row) < len(header):
                refused.append(f"line {line}: {len(row)} cells, the header has {len(header)}")
                continue
            site, loc = row[col["scats_site"]], row[col["location"]]
            det, (_, leg, _) = detector_id(site, loc), approach(loc)
            day = row[col["date"]]
            for i, hhmm in bins:
                if not row[i].strip():
                    continue
                try:
                    ts = datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=tz)
                    volume = float(row[i])
                except ValueError as exc:
                    refused.append(f"line {line}, {day} {hhmm}: {exc}")
                    continue
                out.append(TrafficReading(det, site, leg, ts, step, volume, None, None))
    out.sort(key=lambda r: (r.ts.timestamp(), r.detector_id))
    return out, refused


def _require(path: str | Path, header: list[str], names: Iterable[str]) -> None:
    missing = [n for n in names if n not in header]
    if missing:
        raise ValueError(f"{path}: no column(s) {', '.join(missing)} in the header {header}")


def _bin_seconds(labels: list[str]) -> int:
    if len(labels) < 2:
        return 900
    a, b = (datetime.strptime(x, "%H:%M") for x in labels[:2])  # noqa: DTZ007 (clock labels)
    return int((b - a).total_seconds())


def read_long(
    path: str | Path, tz: tzinfo, interval_s: int = 900
) -> tuple[list[TrafficReading], list[str]]:
    """Readings of a long export: ``site, location`` (or ``detector_id``), ``timestamp``,
    ``volume`` and optionally ``occupancy``, ``speed``, ``interval_s``; in time order, and the
    rows refused (``"line N: ..."``), the rest read all the same."""
    out, refused = [], []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        _require(path, header, ("timestamp",))
        if "detector_id" not in header:
            _require(path, header, ("scats_site", "location"))
        for line, row in enumerate(reader, start=2):
            try:
                out.append(_long_reading(row, tz, interval_s))
            except (TypeError, ValueError) as exc:  # TypeError: a short row's missing cells
                refused.append(f"line {line}: {exc}")
    out.sort(key=lambda r: (r.ts.timestamp(), r.detector_id))
    return out, refused


def _long_reading(row: dict[str, str | None], tz: tzinfo, interval_s: int) -> TrafficReading:
    det = row.get("detector_id") or detector_id(row["scats_site"], row["location"])
    leg = approach(row["location"])[1] if row.get("location") else ""
    ts = datetime.fromisoformat(row["timestamp"])
    return TrafficReading(
        det,
        row.get("scats_site") or det,
        leg,
        ts if ts.tzinfo else ts.replace(tzinfo=tz),
        int(row.get("interval_s") or interval_s),
        _num(row.get("volume")),
        _num(row.get("occupancy")),
        _num(row.get("speed")),
    )


def _num(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def replay(
    readings: Iterable[TrafficReading],
    produce: Callable[[bytes, bytes], None],
    speedup: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Produce readings (key = detector id, value = :func:`kendali.codec.encode`) in order.

    ``speedup`` > 0 paces them: event-time gaps are divided by it (900 s bins at 900x → one
    second apart); 0 replays as fast as possible. Returns the number of readings produced.

    >>> from datetime import UTC, timedelta
    >>> sent, t = [], datetime(2006, 10, 1, tzinfo=UTC)
    >>> rs = [TrafficReading("D", "S", "N", t + timedelta(minutes=15 * i), 900, 5.0, None, None)
    ...       for i in range(3)]
    >>> waits = []
    >>> replay(rs, lambda k, v: sent.append(k), speedup=900, clock=lambda: 0.0,
    ...        sleep=waits.append)
    3
    >>> sent[0], waits
    (b'D', [1.0, 2.0])
    """
    count, start, first = 0, clock(), None
    for r in readings:
        t = r.ts.timestamp()
        first = t if first is None else first
        if speedup > 0:
            wait = (t - first) / speedup - (clock() - start)
            if wait > 0:
                sleep(wait)
        produce(r.detector_id.encode(), encode(r))
        count += 1
    return count
