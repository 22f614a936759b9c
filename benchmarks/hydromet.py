"""Flood-warning benchmark: replay real river levels through the hydromet bank and score it.

``kendali bench hydromet LEVELS_CSV STATIONS_CSV --out DIR`` streams the levels (a time column,
then one column per station; extra text columns such as weather classes are ignored) through
:class:`detectors.hydromet.HydrometBank`, one time step per batch with a tick after each. The
stations CSV gives each station's position and Siaga 3/2/1 levels, either as
``station,lat,lon,siaga3_cm,siaga2_cm,siaga1_cm[,upstream,travel_min]`` or with the headers
``Lokasi,Latitude,Longitude,Siaga 3,Siaga 2,Siaga 1``. River links come from the file,
from ``--link DOWN=UP:MINUTES``, or are estimated (``--infer-links``) from the first months.

Scoring, per gauge: an *event* is a spell with the observed level at or above ``--event-level``
(Siaga 2 by default; spells less than a day apart are merged). An *alert* is the moment the
bank's assessment of the gauge (observed, projected, upstream or rain) first reaches that level
in an episode. An alert inside [event start - ``--lookback-h``, event end] is a detection, with
lead time = observed peak - first alert; any other alert is false. Documented events
(``--documented START/END``) are reported gauge by gauge.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import groupby
from pathlib import Path
from statistics import median
from zoneinfo import ZoneInfo

import numpy as np

from detectors.hydromet import HydrometBank
from detectors.hydromet_levels import SIAGA_NAMES
from kendali.city import Gauge
from kendali.records import HydrometReading, Signal
from sources.telemetry import TelemetryError, read_telemetry

__all__ = ["main", "read_stations"]

_ALIASES = {
    "station": ("station", "lokasi", "name", "id"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude", "lng"),
    "siaga3_cm": ("siaga3_cm", "siaga 3", "siaga3"),
    "siaga2_cm": ("siaga2_cm", "siaga 2", "siaga2"),
    "siaga1_cm": ("siaga1_cm", "siaga 1", "siaga1"),
    "upstream": ("upstream", "hulu"),
    "travel_min": ("travel_min", "travel time", "travel_time_min"),
}


_ALERT_COLUMNS = (
    "time",
    "station",
    "state",
    "severity",
    "assessed",
    "basis",
    "level_cm",
    "rise_cm_per_h",
    "next_level",
    "eta_min",
    "explanation",
)


class BenchError(ValueError):
    """Bad input: the message is the one line printed before exiting."""


def _field(row: dict[str, str], name: str) -> str:
    for key, value in row.items():
        if key and key.strip().lower() in _ALIASES[name]:
            return (value or "").strip()
    return ""


def read_stations(path: Path) -> dict[str, Gauge]:
    """River gauges from a stations CSV in either accepted header style (see the module)."""
    try:
        rows = list(csv.DictReader(path.open(newline="", encoding="utf-8-sig")))
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror}") from None
    gauges = {}
    for n, row in enumerate(rows, start=2):
        try:
            g = Gauge(
                id=_field(row, "station"),
                name=_field(row, "station"),
                kind="river",
                lat=float(_field(row, "lat")),
                lon=float(_field(row, "lon")),
                siaga3_cm=float(_field(row, "siaga3_cm")),
                siaga2_cm=float(_field(row, "siaga2_cm")),
                siaga1_cm=float(_field(row, "siaga1_cm")),
                upstream=_field(row, "upstream") or None,
                travel_min=float(_field(row, "travel_min") or 0) or None,
            )
        except ValueError as exc:
            raise BenchError(f"{path.name} line {n}: {exc}") from None
        gauges[g.id] = g
    if not gauges:
        raise BenchError(f"{path.name}: no stations")
    return gauges


def _series(readings, stations) -> tuple[list[datetime], dict[str, np.ndarray]]:
    times = sorted({r.ts for r in readings})
    index = {t: i for i, t in enumerate(times)}
    out = {s: np.full(len(times), np.nan) for s in stations}
    for r in readings:
        if r.station in out and r.level_cm is not None:
            out[r.station][index[r.ts]] = r.level_cm
    return times, out


def infer_links(times, series, months: float) -> dict[str, tuple[str, float]]:
    """Upstream of each station from lagged correlation of level rises in the first months.

    For each ordered pair the lag (1-24 steps) that best correlates one station's rises with
    the other's later rises is found. ``up`` leads ``down`` when that correlation is at least
    0.1 and at least twice the best correlation the other way round; a station's upstream is
    its strongest leader. Only the calibration months are used, so the rest is out of sample.
    """
    end = times[0] + timedelta(days=30.4 * months)
    n = sum(1 for t in times if t < end)
    step_min = (times[1] - times[0]).total_seconds() / 60 if len(times) > 1 else 60
    rises = {s: np.clip(np.diff(np.nan_to_num(v[:n])), 0, None) for s, v in series.items()}
    lead = {
        (up, down): _best_lag(rises[up], rises[down])
        for up in rises
        for down in rises
        if up != down
    }
    links: dict[str, tuple[str, float]] = {}
    for (up, down), (corr, lag) in sorted(lead.items(), key=lambda kv: kv[1][0]):
        if corr >= 0.1 and corr >= 2 * lead[(down, up)][0]:
            links[down] = (up, lag * step_min)  # ascending order: the strongest wins
    return links


def _best_lag(up: np.ndarray, down: np.ndarray) -> tuple[float, int]:
    if up.std() == 0 or down.std() == 0:
        return 0.0, 0
    corr = [(float(np.corrcoef(up[:-lag], down[lag:])[0, 1]), lag) for lag in range(1, 25)]
    return max(corr)


def _run(bank: HydrometBank, readings: list[HydrometReading]) -> tuple[list[Signal], float]:
    signals: list[Signal] = []
    started = time.perf_counter()
    for ts, batch in groupby(readings, key=lambda r: r.ts):
        signals.extend(bank.process(list(batch)))
        signals.extend(bank.tick(ts))
    return signals, time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class _Event:
    station: str
    start: datetime
    end: datetime
    peak: datetime
    peak_cm: float


def find_events(times, levels: np.ndarray, threshold: float, station: str) -> list[_Event]:
    """Spells at or above ``threshold`` (merged when less than 24 h apart), with their peaks."""
    above = np.flatnonzero(np.nan_to_num(levels, nan=-1e9) >= threshold)
    spells: list[list[int]] = []
    for i in above:
        if spells and (times[i] - times[spells[-1][-1]]) < timedelta(hours=24):
            spells[-1].append(int(i))
        else:
            spells.append([int(i)])
    out = []
    for spell in spells:
        lo, hi = spell[0], spell[-1]
        k = lo + int(np.nanargmax(levels[lo : hi + 1]))
        out.append(_Event(station, times[lo], times[hi], times[k], float(levels[k])))
    return out


@dataclass(frozen=True, slots=True)
class _Alert:
    signal: Signal
    until: datetime  # when the assessment fell below the alert's rank again


def alerts_from(signals: list[Signal], rank: int) -> list[_Alert]:
    """Moments a gauge's flood assessment reaches ``rank``, each held until it falls below."""
    name_rank = {n: i for i, n in enumerate(SIAGA_NAMES)}
    open_: dict[str, Signal] = {}
    out = []
    for s in signals:
        if s.category != "flood" or s.kind != "incident":
            continue
        r = name_rank.get(s.details.get("assessed", "normal"), 0) if s.state != "clear" else 0
        if r >= rank and s.key not in open_:
            open_[s.key] = s
        elif r < rank and s.key in open_:
            out.append(_Alert(open_.pop(s.key), s.ts))
    end = signals[-1].ts if signals else None
    out += [_Alert(s, end) for s in open_.values()]
    return sorted(out, key=lambda a: a.signal.ts)


def score(events, alerts: list[_Alert], lookback_h: float, gauge_months: float) -> dict:
    """Detections, lead times and false alerts (see the module docstring for the rules).

    An alert detects an event when it is raised or still held within [start - lookback, end].
    """
    used, rows = set(), []
    for ev in events:
        lo = ev.start - timedelta(hours=lookback_h)
        hits = [
            a
            for a in alerts
            if a.signal.key == f"gauge:{ev.station}" and a.signal.ts <= ev.end and a.until >= lo
        ]
        used.update(id(a) for a in hits)
        first = min(hits, key=lambda a: a.signal.ts).signal if hits else None
        lead = (ev.peak - first.ts).total_seconds() / 60 if first else None
        rows.append(
            {
                "station": ev.station,
                "start": ev.start.isoformat(),
                "peak": ev.peak.isoformat(),
                "peak_cm": ev.peak_cm,
                "first_alert": first.ts.isoformat() if first else None,
                "alert_basis": first.details.get("basis") if first else None,
                "alert_level_cm": first.details.get("level_cm") if first else None,
                "lead_min": lead,
                "before_peak": lead is not None and lead > 0,
            }
        )
    false = [a.signal for a in alerts if id(a) not in used]
    leads = [r["lead_min"] for r in rows if r["lead_min"] is not None]
    return {
        "events": len(rows),
        "detected": sum(r["lead_min"] is not None for r in rows),
        "alerted_before_peak": sum(r["before_peak"] for r in rows),
        "median_lead_min": median(leads) if leads else None,
        "false_alerts": len(false),
        "false_per_gauge_month": round(len(false) / gauge_months, 3) if gauge_months else None,
        "per_event": rows,
        "false_alert_times": [(a.key, a.ts.isoformat(), a.details.get("basis")) for a in false],
    }


def _documented(spec: str, tz) -> tuple[datetime, datetime]:
    try:
        a, b = (date.fromisoformat(x) for x in spec.split("/"))
    except ValueError:
        raise BenchError(f"--documented {spec!r}: expected YYYY-MM-DD/YYYY-MM-DD") from None
    return datetime(a.year, a.month, a.day, tzinfo=tz), datetime(
        b.year, b.month, b.day, tzinfo=tz
    ) + timedelta(days=1)


def _documented_report(spans, times, series, alerts, gauges) -> list[dict]:
    out = []
    for lo, hi in spans:
        for sid, levels in series.items():
            idx = [i for i, t in enumerate(times) if lo <= t < hi]
            if not idx:
                continue
            k = idx[0] + int(np.nanargmax(levels[idx[0] : idx[-1] + 1]))
            g = gauges[sid]
            thresholds = (g.siaga3_cm, g.siaga2_cm, g.siaga1_cm)
            rank = sum(levels[k] >= x for x in thresholds)
            early = lo - timedelta(hours=12)
            mine = [
                a.signal
                for a in alerts
                if a.signal.key == f"gauge:{sid}" and a.signal.ts <= times[k] and a.until >= early
            ]
            first = min(mine, key=lambda s: s.ts) if mine else None
            out.append(
                {
                    "span": f"{lo.date()}/{(hi - timedelta(days=1)).date()}",
                    "station": sid,
                    "peak": times[k].isoformat(),
                    "peak_cm": float(levels[k]),
                    "peak_siaga": SIAGA_NAMES[rank],
                    "first_alert": first.ts.isoformat() if first else None,
                    "first_alert_severity": first.severity if first else None,
                    "lead_min": (times[k] - first.ts).total_seconds() / 60 if first else None,
                }
            )
    return out


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kendali bench hydromet", description=__doc__.split("\n")[0])
    p.add_argument("levels_csv", type=Path, help="time column, then one level column per station")
    p.add_argument("stations_csv", type=Path, help="station, lat, lon, Siaga 3/2/1 (cm)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--tz", default="UTC", help="time zone of naive timestamps (IANA name)")
    p.add_argument("--link", action="append", default=[], help="DOWN=UP:MINUTES (repeatable)")
    p.add_argument("--infer-links", action="store_true", help="estimate links from the data")
    p.add_argument("--calibration-months", type=float, default=12.0)
    p.add_argument("--event-level", type=int, default=2, choices=(1, 2, 3), help="Siaga N")
    p.add_argument("--lookback-h", type=float, default=12.0)
    p.add_argument("--documented", action="append", default=[], help="START/END dates")
    return p.parse_args(argv)


def _links(args, gauges, times, series) -> dict[str, tuple[str, float]]:
    links = {g.id: (g.upstream, g.travel_min) for g in gauges.values() if g.upstream}
    if args.infer_links:
        links.update(infer_links(times, series, args.calibration_months))
    for spec in args.link:
        try:
            down, rest = spec.split("=")
            up, minutes = rest.split(":")
            links[down.strip()] = (up.strip(), float(minutes))
        except ValueError:
            raise BenchError(f"--link {spec!r}: expected DOWN=UP:MINUTES") from None
    unknown = {s for pair in links.items() for s in (pair[0], pair[1][0])} - set(gauges)
    if unknown:
        raise BenchError(f"links name unknown stations: {', '.join(sorted(unknown))}")
    return links


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    try:
        return _main(args)
    except (BenchError, TelemetryError) as exc:
        print(f"kendali bench hydromet: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    tz = ZoneInfo(args.tz)
    gauges = read_stations(args.stations_csv)
    telemetry = read_telemetry(args.levels_csv, tz)
    readings = [r for r in telemetry.readings if r.station in gauges and r.level_cm is not None]
    if not readings:
        raise BenchError(f"{args.levels_csv.name}: no level columns match {', '.join(gauges)}")
    print(f"hydromet: {len(readings)} readings, {len(gauges)} gauges", file=sys.stderr)
    times, series = _series(readings, gauges)
    links = _links(args, gauges, times, series)
    gauges = {
        sid: replace(g, upstream=links[sid][0], travel_min=links[sid][1]) if sid in links else g
        for sid, g in gauges.items()
    }
    signals, seconds = _run(HydrometBank(gauges, {}, tz), readings)
    print(f"hydromet: {len(signals)} signals in {seconds:.1f} s", file=sys.stderr)
    span_h = (times[-1] - times[0]).total_seconds() / 3600 if len(times) > 1 else 0
    gauge_months = len(gauges) * span_h / (24 * 30.44)
    tiers = {}
    for rank in sorted({1, args.event_level}):
        events = []
        for sid, levels in series.items():
            th = (gauges[sid].siaga3_cm, gauges[sid].siaga2_cm, gauges[sid].siaga1_cm)
            events += find_events(times, levels, th[rank - 1], sid)
        tiers[SIAGA_NAMES[rank]] = score(
            events, alerts_from(signals, rank), args.lookback_h, gauge_months
        )
    alerts = alerts_from(signals, args.event_level)
    spans = [_documented(s, tz) for s in args.documented]
    summary = {
        "method": _method(args, readings, telemetry, gauges, links, seconds, gauge_months),
        "signals": _counts(signals),
        "tiers": tiers,
        "documented_events": _documented_report(spans, times, series, alerts, gauges),
    }
    _write(args.out, summary, signals, args.event_level)
    print(f"hydromet: wrote {args.out}/summary.json and summary.md", file=sys.stderr)
    return 0


def _counts(signals: list[Signal]) -> dict:
    counts: dict[str, int] = defaultdict(int)
    for s in signals:
        key = s.details.get("fault") if s.kind == "fault" else s.category
        counts[f"{s.kind}:{key}:{s.state}"] += 1
    return dict(sorted(counts.items()))


def _method(args, readings, telemetry, gauges, links, seconds, gauge_months) -> dict:
    return {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "levels_csv": str(args.levels_csv),
        "stations_csv": str(args.stations_csv),
        "readings": len(readings),
        "rejected_rows": len(telemetry.rejected),
        "ignored_columns": list(telemetry.ignored_columns),
        "gauges": list(gauges),
        "gauge_months": round(gauge_months, 1),
        "links": {d: {"upstream": u, "travel_min": m} for d, (u, m) in links.items()},
        "links_inferred": bool(args.infer_links),
        "event_level": SIAGA_NAMES[args.event_level],
        "lookback_h": args.lookback_h,
        "bank_seconds": round(seconds, 2),
        "readings_per_s": round(len(readings) / seconds) if seconds else None,
    }


def _write(out: Path, summary: dict, signals: list[Signal], event_level: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    with (out / "alerts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(_ALERT_COLUMNS)
        for s in signals:
            if s.category == "flood":
                d = {**s.details, "time": s.ts.isoformat(), "state": s.state}
                d.update(severity=s.severity, explanation=s.explanation)
                w.writerow([d.get(c) for c in _ALERT_COLUMNS])
    (out / "summary.md").write_text(_markdown(summary, event_level))


def _markdown(summary: dict, event_level: int) -> str:
    m = summary["method"]
    lines = [
        "# Hydromet flood-warning benchmark",
        "",
        f"{m['readings']} readings, {len(m['gauges'])} gauges, {m['gauge_months']} gauge-months; "
        f"links {m['links']} ({'inferred' if m['links_inferred'] else 'given'}); "
        f"Python {m['python']}, {m['readings_per_s']} readings/s.",
        "",
        "| tier | events | alerted before peak | median lead (min) | false alerts "
        "| false / gauge-month |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in summary["tiers"].items():
        lines.append(
            f"| {name} | {t['events']} | {t['alerted_before_peak']} | {t['median_lead_min']} "
            f"| {t['false_alerts']} | {t['false_per_gauge_month']} |"
        )
    if summary["documented_events"]:
        lines += ["", f"Documented events (alerts at {SIAGA_NAMES[event_level]} or worse):", ""]
        lines += [
            "| span | station | peak | peak cm | first alert | lead (min) |",
            "|" + "---|" * 6,
        ]
        for d in summary["documented_events"]:
            lines.append(
                f"| {d['span']} | {d['station']} | {d['peak']} | {d['peak_cm']:g} "
                f"({d['peak_siaga']}) | {d['first_alert']} | {d['lead_min']} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
