"""Incident benchmark: stream a detector series through the traffic bank, score against labels.

``kendali bench traffic SERIES_CSV [INCIDENTS_CSV] --out DIR`` reads a series CSV (``timestamp``
in local time, then one column per detector id; gaps allowed; the values are one traffic measure,
``--measure``) or a SCATS wide export (recognised by its ``scats_site`` column), runs
:class:`~detectors.traffic.TrafficBank` over it in time order (ticking the clock at every
timestamp) and writes ``alerts.csv``, ``traffic.json`` and ``traffic.md``. With an incidents CSV
(``start`` local time, ``duration_min``, ``detector``) it reports the measures of the AID
literature: detection rate, false alarms per detector-day, mean time to detect (minutes and
intervals after the incident's start). Without one it reports alerts per detector-day and the
strongest alerts, for a human to look at.

``kendali bench traffic --sim 1,2,3 --out DIR`` instead runs the city simulator
(:mod:`sources.simulator`) with crashes injected at each seed and scores the bank on them;
``--nab NAB_DIR`` scores it on the labelled windows of NAB's ``realTraffic`` files.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from itertools import groupby, pairwise
from pathlib import Path
from statistics import median
from zoneinfo import ZoneInfo

from detectors.traffic import TrafficBank
from kendali.city import City, Detector, load_city
from kendali.records import Signal, TrafficReading
from kendali.settings import Settings
from sources import scats
from sources.sim_scenario import IncidentSpec, Scenario, StreamSpec
from sources.simulator import CitySimulator

__all__ = [
    "Labelled",
    "evaluate",
    "main",
    "read_incidents",
    "read_series",
    "run_bank",
    "simulate",
]

MEASURES = ("volume", "occupancy", "speed")


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled incident: the detector(s) that see it, from when, until when."""

    detectors: tuple[str, ...]
    start: datetime
    end: datetime
    #: When it first shows in the data (``None``: never; the simulator knows, files assume start).
    visible: datetime | None = None

    def covers(self, signal: Signal, after: timedelta = timedelta(0)) -> bool:
        """Whether an alert opened on one of its detectors during it (or ``after`` it)."""
        keys = {f"atcs:{d}" for d in self.detectors}
        return signal.key in keys and self.start <= signal.ts <= self.end + after


def _local(text: str, tz: tzinfo) -> datetime:
    ts = datetime.fromisoformat(text.strip())
    return ts if ts.tzinfo else ts.replace(tzinfo=tz)


def read_series(path: Path, tz: tzinfo, measure: str) -> list[TrafficReading]:
    """Readings of a ``timestamp,<detector>...`` CSV; the interval is the median time step."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    stamps = sorted({_local(r["timestamp"], tz) for r in rows})
    steps = sorted((b - a).total_seconds() for a, b in pairwise(stamps))
    interval = int(steps[len(steps) // 2]) if steps else 300
    out = []
    for row in rows:
        ts = _local(row["timestamp"], tz)
        for det, value in row.items():
            if det != "timestamp" and value not in (None, ""):
                values = dict.fromkeys(MEASURES) | {measure: float(value)}
                out.append(TrafficReading(det, det, "-", ts, interval, **values))
    out.sort(key=lambda r: (r.ts.timestamp(), r.detector_id))
    return out


def read_incidents(path: Path, tz: tzinfo) -> list[Labelled]:
    """Labelled incidents from a ``start,duration_min,detector`` CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            Labelled(
                (r["detector"].strip(),),
                _local(r["start"], tz),
                _local(r["start"], tz) + timedelta(minutes=float(r["duration_min"])),
                _local(r["start"], tz),
            )
            for r in csv.DictReader(fh)
        ]


def run_bank(bank: TrafficBank, readings: Sequence[TrafficReading]) -> list[Signal]:
    """Feed readings timestamp by timestamp, ticking the bank's clock after each step."""
    out: list[Signal] = []
    for ts, group in groupby(readings, key=lambda r: r.ts):
        out += bank.process(list(group))
        out += bank.tick(ts)
    return out


def evaluate(
    signals: Sequence[Signal], labels: Sequence[Labelled], detector_days: float, interval_s: int
) -> dict:
    """Detection rate, false alarms per detector-day and time to detect of incident alerts.

    An incident is detected by the first alert opened on its detector between its start and
    its end; an alert that overlaps no labelled incident (or the hour after one) is false.
    """
    opens = [s for s in signals if s.kind == "incident" and s.state == "open"]
    delays, matched = [], set()
    seen = [lab for lab in labels if lab.visible is not None]
    for lab in seen:
        hits = [s for s in opens if lab.covers(s)]
        if hits:
            matched.add(id(hits[0]))
            delays.append(max((hits[0].ts - lab.visible).total_seconds(), 0.0))
    false = [
        s
        for s in opens
        if id(s) not in matched and not any(lab.covers(s, timedelta(hours=1)) for lab in labels)
    ]
    mean = sum(delays) / len(delays) if delays else None
    return {
        "incidents": len(labels),
        "visible": len(seen),
        "detected": len(delays),
        "detection_rate": len(delays) / len(seen) if seen else None,
        "false_alarms": len(false),
        "false_alarms_per_detector_day": len(false) / detector_days if detector_days else None,
        "mean_time_to_detect_min": None if mean is None else mean / 60,
        "mean_time_to_detect_intervals": None if mean is None else mean / interval_s,
    }


def _load(args: argparse.Namespace) -> tuple[list[TrafficReading], dict[str, Detector], tzinfo]:
    with args.series.open(encoding="utf-8") as fh:
        header = fh.readline()
    if header.startswith("scats_site"):
        readings, refused = scats.read_wide(args.series)
        if refused:
            raise ValueError(f"{args.series}: {len(refused)} cells refused, first {refused[0]}")
        locations = args.series.parent / "scats_locations.csv"
        known = scats.scats_detectors(locations) if locations.exists() else {}
        return readings, known, scats.MELBOURNE
    city = load_city(args.city)
    tz = ZoneInfo(args.tz) if args.tz else city.tz
    return read_series(args.series, tz, args.measure), city.detectors, tz


def _registry(readings: Sequence[TrafficReading], known: dict[str, Detector]) -> dict:
    """The known detectors of the readings, plus a bare entry for each unknown column."""
    ids = sorted({r.detector_id for r in readings})
    return {i: known.get(i) or Detector(i, i, i, "-", "-", 0.0, 0.0, 50.0, 1800.0, None, None)
            for i in ids}  # fmt: skip


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="kendali bench traffic", description=__doc__.split("\n")[0])
    ap.add_argument(
        "series", type=Path, nargs="?", help="series CSV (timestamp + detector columns) or SCATS"
    )
    ap.add_argument("incidents", type=Path, nargs="?", help="start,duration_min,detector CSV")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--measure", choices=MEASURES, default="volume", help="what the values are")
    ap.add_argument("--tz", help="time zone of the local times (default: the city's)")
    ap.add_argument("--city", default=Settings().city, help="city folder (detector registry)")
    ap.add_argument("--sim", help="instead of files: simulator seeds to run, e.g. 1,2,3")
    ap.add_argument("--nab", type=Path, help="instead of files: a NAB folder (realTraffic windows)")
    ap.add_argument("--crashes", type=int, default=8, help="crashes injected per seed (--sim)")
    ap.add_argument("--days", type=int, default=14, help="normal days before the crashes (--sim)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.sim:
        return _simulated(args)
    if args.nab:
        return _nab_traffic(args)
    if args.series is None:
        print("kendali bench traffic: give SERIES_CSV or --sim SEEDS", file=sys.stderr)
        return 2
    for path in (args.series, args.incidents):
        if path is not None and not path.is_file():
            print(f"kendali bench traffic: no such file {path}", file=sys.stderr)
            return 2
    readings, known, tz = _load(args)
    if not readings:
        print(f"kendali bench traffic: no readings in {args.series}", file=sys.stderr)
        return 2
    detectors = _registry(readings, known)
    print(f"{len(readings)} readings, {len(detectors)} detectors", file=sys.stderr)
    start = time.perf_counter()
    signals = run_bank(TrafficBank(detectors, tz), readings)
    seconds = time.perf_counter() - start
    span_days = (readings[-1].ts - readings[0].ts).total_seconds() / 86400 + 1 / 96
    detector_days = span_days * len(detectors)
    labels = read_incidents(args.incidents, tz) if args.incidents else []
    report = _report(signals, labels, detector_days, readings, seconds)
    _write(args.out, signals, report)
    print(_markdown(report))
    return 0


def _report(signals, labels, detector_days, readings, seconds) -> dict:
    interval = readings[0].interval_s
    opens = [s for s in signals if s.state == "open"]
    incidents = [s for s in opens if s.kind == "incident"]
    return {
        "method": {
            "readings": len(readings),
            "detector_days": round(detector_days, 1),
            "interval_s": interval,
            "seconds": round(seconds, 2),
            "readings_per_s": round(len(readings) / max(seconds, 1e-9)),
            "python": platform.python_version(),
        },
        "alerts_per_detector_day": len(incidents) / detector_days,
        "faults_per_detector_day": (len(opens) - len(incidents)) / detector_days,
        "labelled": evaluate(signals, labels, detector_days, interval) if labels else None,
        "strongest": [
            {"ts": s.ts.isoformat(), "key": s.key, "score": s.score, "line": s.explanation}
            for s in sorted(incidents, key=lambda s: (-s.score, s.ts))[:10]
        ],
    }


def _write(out: Path, signals: Sequence[Signal], report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "alerts.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ts", "key", "kind", "category", "state", "severity", "score", "explanation"])
        for s in signals:
            w.writerow([s.ts.isoformat(), s.key, s.kind, s.category, s.state, s.severity,
                        s.score, s.explanation])  # fmt: skip
    (out / "traffic.json").write_text(json.dumps(report, indent=2))
    (out / "traffic.md").write_text(_markdown(report))


def _markdown(report: dict) -> str:
    m = report["method"]
    lines = [
        "# Traffic incident benchmark",
        "",
        f"{m['readings']} readings, {m['detector_days']} detector-days, interval {m['interval_s']}"
        f" s, {m['seconds']} s ({m['readings_per_s']} readings/s, Python {m['python']}).",
        "",
        f"- incident alerts per detector-day: {report['alerts_per_detector_day']:.3f}",
        f"- detector-fault tickets per detector-day: {report['faults_per_detector_day']:.3f}",
    ]
    lab = report["labelled"]
    if lab:
        rate = lab["detection_rate"]
        mttd, intervals = lab["mean_time_to_detect_min"], lab["mean_time_to_detect_intervals"]
        when = "-" if mttd is None else f"{mttd:.1f} min ({intervals:.1f} intervals)"
        lines += [
            f"- detected {lab['detected']}/{lab['visible']} visible ({rate:.0%};"
            f" {lab['incidents']} labelled)",
            f"- false alarms per detector-day: {lab['false_alarms_per_detector_day']:.3f}",
            f"- mean time to detect: {when}",
        ]
    lines += ["", "Strongest alerts:", ""]
    lines += [f"- {a['score']:.2f} {a['line']}" for a in report["strongest"]]
    return "\n".join(lines) + "\n"


def _simulated(args: argparse.Namespace) -> int:
    """Run the city simulator with injected crashes at each seed and score the bank on them."""
    city = load_city(args.city)
    runs = {}
    for seed in (int(s) for s in args.sim.split(",") if s.strip()):
        print(f"[sim seed {seed}] {args.days} days + {args.crashes} crashes", file=sys.stderr)
        readings, labels, detectors = simulate(city, seed, args.crashes, args.days)
        start = time.perf_counter()
        signals = run_bank(TrafficBank(detectors, city.tz), readings)
        seconds = time.perf_counter() - start
        days = (readings[-1].ts - readings[0].ts).total_seconds() / 86400 * len(detectors)
        runs[seed] = _report(signals, labels, days, readings, seconds)
        _write(args.out / f"seed{seed}", signals, runs[seed])
    table = _sim_table(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "traffic_sim.json").write_text(json.dumps(runs, indent=2))
    (args.out / "traffic_sim.md").write_text(table)
    print(table)
    return 0


def _nab_traffic(args: argparse.Namespace) -> int:
    """Each NAB realTraffic file through its own bank; windows are incidents, timed from the
    labelled anomaly. Speed is bad going down; occupancy and travel time going up."""
    windows = json.loads((args.nab / "labels" / "combined_windows.json").read_text())
    points = json.loads((args.nab / "labels" / "combined_labels.json").read_text())
    tz, runs = ZoneInfo(args.tz or "America/Chicago"), {}
    for path in sorted((args.nab / "data" / "realTraffic").glob("*.csv")):
        name = f"realTraffic/{path.name}"
        measure = "speed" if path.stem.startswith("speed") else "occupancy"
        with path.open(newline="") as fh:
            rows = [(r["timestamp"], r["value"]) for r in csv.DictReader(fh)]
        series = args.out / "nab_series" / path.name
        series.parent.mkdir(parents=True, exist_ok=True)
        with series.open("w", newline="") as fh:
            csv.writer(fh).writerows([("timestamp", path.stem), *rows])
        readings = read_series(series, tz, measure)
        labels = [
            Labelled((path.stem,), _local(a, tz), _local(b, tz), _local(p, tz))
            for (a, b), p in zip(windows.get(name, []), points.get(name, []), strict=True)
        ]
        signals = run_bank(TrafficBank(_registry(readings, {}), tz), readings)
        days = (readings[-1].ts - readings[0].ts).total_seconds() / 86400
        runs[path.stem] = _report(signals, labels, days, readings, 0.0)
        _write(args.out / path.stem, signals, runs[path.stem])
    table = _sim_table(runs, "file")
    (args.out / "traffic_nab.json").write_text(json.dumps(runs, indent=2))
    (args.out / "traffic_nab.md").write_text(table)
    print(table)
    return 0


def _sim_table(runs: dict, what: str = "seed") -> str:
    """Markdown table of labelled runs, one row each plus the pooled total."""
    head = "| incidents | visible | detected | false alarms / detector-day | time to detect |"
    lines = [f"| {what} {head}", "|---|---:|---:|---:|---:|---:|"]
    rows = [(name, r["labelled"], r["method"]["detector_days"]) for name, r in runs.items()]
    found = sum(lab["detected"] for _, lab, _ in rows)
    waits = [(lab["mean_time_to_detect_intervals"] or 0.0) * lab["detected"] for _, lab, _ in rows]
    total = {
        "incidents": sum(lab["incidents"] for _, lab, _ in rows),
        "visible": sum(lab["visible"] for _, lab, _ in rows),
        "detected": found,
        "false_alarms_per_detector_day": sum(lab["false_alarms"] for _, lab, _ in rows)
        / max(sum(days for *_, days in rows), 1e-9),
        "mean_time_to_detect_intervals": sum(waits) / found if found else None,
    }
    for name, lab in [*((n, lab) for n, lab, _ in rows), ("**all**", total)]:
        mttd = lab["mean_time_to_detect_intervals"]
        lines.append(
            f"| {name} | {lab['incidents']} | {lab['visible']} | {lab['detected']} | "
            f"{lab['false_alarms_per_detector_day']:.3f} | "
            f"{'-' if mttd is None else f'{mttd:.1f} intervals'} |"
        )
    return "\n".join(lines) + "\n"


def simulate(
    city: City, seed: int, crashes: int, days: int
) -> tuple[list[TrafficReading], list[Labelled], dict[str, Detector]]:
    """Readings, labels and detectors of one simulated run (deterministic for the seed).

    ``crashes`` crashes on detectors drawn with the seed, at random times of day after ``days``
    normal days (the bank's learning period). Each crash's label lists the detectors its queue
    reached and when it became visible in the readings, if ever: a crash at 3 a.m. on an empty
    road may never show.
    """
    rng = random.Random(seed)
    ids = sorted(city.detectors)
    specs = tuple(
        IncidentSpec(
            id=f"crash-{seed}-{k}",
            kind="crash",
            at_min=k * 360 + rng.uniform(30, 300),
            duration_min=rng.uniform(30, 90),
            detector=rng.choice(ids),
            residual_capacity=rng.uniform(0.1, 0.4),
        )
        for k in range(crashes)
    )
    scenario = Scenario(
        name=f"bench-{seed}", streams=StreamSpec(reports_per_hour=0.0, storms_per_day=0.0),
        incidents=specs,
    )  # fmt: skip
    start = datetime(2026, 11, 2, 0, 0, tzinfo=city.tz) + timedelta(days=days)
    sim = CitySimulator(city, scenario, seed, start=start, backfill=timedelta(days=days))
    end = start + timedelta(minutes=crashes * 360 + 120)
    readings = [e.record for e in sim.events(end) if e.topic_kind == "traffic"]
    labels = [
        Labelled(truth.detectors, truth.start, truth.end or end, None)
        for truth in sim.truth
        if truth.kind == "crash"
    ]
    return readings, [_with_visibility(lab, readings) for lab in labels], city.detectors


def _with_visibility(lab: Labelled, readings: list[TrafficReading]) -> Labelled:
    """First reading of its detectors, during it, that departs clearly from the hour before:
    occupancy at least doubled (and +10 points) or speed down by 40 %. ``None`` if none does."""
    before = lab.start - timedelta(hours=1)
    mine = [r for r in readings if r.detector_id in lab.detectors and before <= r.ts <= lab.end]
    for det in lab.detectors:
        prior = [r for r in mine if r.detector_id == det and r.ts < lab.start]
        occ = median([r.occupancy for r in prior if r.occupancy is not None] or [0.0])
        speed = median([r.speed for r in prior if r.speed is not None] or [0.0])
        for r in (r for r in mine if r.detector_id == det and r.ts >= lab.start):
            jam = r.occupancy is not None and r.occupancy >= max(2 * occ, occ + 10)
            slow = r.speed is not None and speed > 0 and r.speed <= 0.6 * speed
            if jam or slow:
                shown = r.ts if lab.visible is None else min(lab.visible, r.ts)
                lab = replace(lab, visible=shown)
                break
    return lab
