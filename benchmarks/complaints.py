"""Complaint-cluster benchmark: real reports as background, injected clusters, ground truth.

``kendali bench complaints REPORTS_CSV --out DIR`` reads any CSV of reports (``created_at`` in
local time, ``lat``, ``lon``, optional ``category`` and ``text``), streams it in time order through
the dataflow's own code (:func:`geo.locate.locate`, :func:`detectors.categories.report_key`, one
:class:`detectors.reports.ReportBank` per category group) and measures:

* background: the incidents raised on the real data alone (first alert, centre, radius, count,
  group), per category group per 30 days, and, when the folder holds the Jakarta disaster
  agency's flooded-neighbourhood tables, how many of them a flooded RW confirms nearby;
* injection: synthetic clusters (sizes x radii x durations) placed at real report locations and
  random times of the real stream, a few per run; the share found (an incident of certainty
  Likely or better holding at least half the cluster's reports), the delay from the first injected
  report to that incident, and whether it opened its own incident or merged into a real one.

The default time zone comes from ``--tz`` or, failing that, from a "UTC+7"-style note in a README
beside the CSV or in its parent folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
import orjson
import shapely
from shapely.geometry import Point, shape

from detectors.categories import classify, report_key
from detectors.reports import ReportBank, ReportParams
from geo.distance import offset_deg
from geo.locate import locate
from kendali.city import City, load_city
from kendali.records import Complaint, Signal
from kendali.settings import Settings
from sources.reports_csv import CsvRejected, parse_tz, read_reports_csv

__all__ = ["guess_tz", "main", "run_stream"]

SIZES = (3, 5, 8, 12)
RADII_M = (100, 300, 500)
DURATIONS_MIN = (10, 30, 60)
ARRIVALS = ("uniform", "front")
TARGET = {"size": 5, "radius_m": 300, "duration_min": 30}


@dataclass(frozen=True, slots=True)
class Injected:
    """One synthetic cluster: its shape and the ids of its reports."""

    size: int
    radius_m: float
    duration_min: float
    arrival: str
    start: datetime
    lon: float
    lat: float
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Truth:
    """The disaster agency's flooded neighbourhoods: polygons and the hours each was flooded."""

    tree: shapely.STRtree
    ids: list[str]
    geoms: list
    flooded: dict[str, list[datetime]]

    def match(self, lon: float, lat: float, ts: datetime, within_m: float = 200.0) -> dict | None:
        """The nearest RW within ``within_m`` flooded from 3 h before to 24 h after ``ts``: its
        id, distance and the minutes from ``ts`` to the agency's first flag of it."""
        dlon, dlat = offset_deg(lat, within_m)
        point = Point(lon, lat)
        best = None
        for i in self.tree.query(point.buffer(max(dlon, dlat))):
            hours = self.flooded.get(self.ids[int(i)], ())
            if not any(ts - timedelta(hours=3) <= h <= ts + timedelta(hours=24) for h in hours):
                continue
            d = self.geoms[int(i)].distance(point) * 111_195 * math.cos(math.radians(lat))
            if d <= within_m and (best is None or d < best[0]):
                best = (d, self.ids[int(i)], min(hours))
        if best is None:
            return None
        lead = (best[2] - ts).total_seconds() / 60
        return {"rw": best[1], "distance_m": round(best[0]), "agency_lead_min": round(lead)}


def load_truth(folder: Path) -> Truth | None:
    """Flooded-area tables next to the reports (PetaBencana layout), or None when absent."""
    states, polygons = (
        folder / "flood_area_states_hourly.csv",
        folder / "flood_area_polygons.geojson",
    )
    if not (states.exists() and polygons.exists()):
        return None
    flooded: dict[str, list[datetime]] = defaultdict(list)
    for line in states.read_text().splitlines()[1:]:
        snapshot, geom_id, state, *_ = line.split(",")
        if int(state) >= 1:
            flooded[geom_id].append(datetime.fromisoformat(snapshot))
    features = orjson.loads(polygons.read_bytes())["features"]
    ids = [str(f["properties"]["geom_id"]) for f in features]
    geoms = [shape(f["geometry"]) for f in features]
    return Truth(shapely.STRtree(geoms), ids, geoms, dict(flooded))


def guess_tz(csv_path: Path) -> str | None:
    """A ``UTC+N`` note in a README next to the CSV or one folder up, as the data sets carry."""
    for folder in (csv_path.parent, csv_path.parent.parent):
        for readme in sorted(folder.glob("*README*")):
            m = re.search(r"UTC\s?[+-]\d{1,2}(?::\d{2})?", readme.read_text(errors="replace"))
            if m:
                return m.group(0).replace(" ", "")
    return None


def data_city(reports: list[Complaint], tz: tzinfo, base: City, name: str) -> City:
    """A city for data from elsewhere: the reports' extent, the base city's routing, no zones."""
    lons = [c.lon for c in reports if c.lon is not None]
    lats = [c.lat for c in reports if c.lat is not None]
    if not lons:
        raise ValueError("no report has coordinates; give --city for place names")
    pad = 0.01
    return dataclasses.replace(
        base,
        name=name,
        tz=tz,
        center=(float(np.median(lons)), float(np.median(lats))),
        bbox=(min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad),
        zones=[],
        places={},
        flood_areas={},
        folder=None,
    )


def run_stream(city: City, reports: list[Complaint], params: ReportParams) -> list[Signal]:
    """Reports in time order through locate, report_key and one bank per group, as the flow."""
    banks: dict[str, ReportBank] = {}
    out: list[Signal] = []
    step = max(len(reports) // 10, 50_000)
    for n, c in enumerate(sorted(reports, key=lambda c: (c.ts, c.id)), start=1):
        if n % step == 0:
            print(f"  {n}/{len(reports)} reports streamed", file=sys.stderr)
        if isinstance(locate(c, city), str):
            continue
        key = report_key(c)
        bank = banks.get(key) or banks.setdefault(key, ReportBank(city, params))
        out.extend(bank.process([c]))
    end = max(c.ts for c in reports) + timedelta(days=1)
    for bank in banks.values():
        out.extend(bank.tick(end))
    return out


def incidents(signals: list[Signal], *, possible: bool = False) -> list[dict]:
    """One row per incident: first alert (certainty Likely or better) and its final shape;
    with ``possible``, the single-report incidents that never got beyond Possible instead."""
    rows: dict[str, dict] = {}
    for s in signals:
        row = rows.setdefault(s.key, {"key": s.key, "alert": None, "possible": s.ts})
        if row["alert"] is None and s.certainty != "Possible" and s.state != "clear":
            row["alert"] = s.ts
        row.update(
            group=s.details["group"],
            category=s.category,
            certainty=s.certainty,
            lat=s.lat,
            lon=s.lon,
            count=s.details["count"],
            radius_m=s.details["radius_m"],
            p_value=s.details["p_value"],
            first_report=s.details["first"],
            evidence=s.evidence,
        )
    return [r for r in rows.values() if (r["alert"] is None) == possible]


def _offsets(rng, arrival: str, minutes: float, n: int) -> np.ndarray:
    """Minutes after the first report: uniform, or front-loaded (truncated exponential, mean
    a third of the duration: most witnesses call in the first minutes)."""
    u = rng.uniform(0, 1, n)
    if arrival == "front":
        scale = minutes / 3
        u = -scale * np.log1p(-u * (1 - math.exp(-minutes / scale))) / minutes
    return np.sort(np.concatenate([[0.0], u * minutes]))


def _cluster(rng, config, start, centre, n: int) -> tuple[Injected, list[Complaint]]:
    size, radius, minutes, arrival = config
    lon0, lat0 = centre
    dlon, dlat = offset_deg(lat0, radius)
    offsets = _offsets(rng, arrival, minutes, size - 1)
    ids = tuple(f"inj{n}-{i}" for i in range(size))
    out = []
    for i, minute in enumerate(offsets):
        ang, rad = rng.uniform(0, 2 * math.pi), math.sqrt(rng.uniform())
        out.append(
            Complaint(
                ids[i],
                "bench",
                start + timedelta(minutes=float(minute)),
                category=None,
                text="",
                lat=lat0 + dlat * rad * math.sin(ang),
                lon=lon0 + dlon * rad * math.cos(ang),
            )
        )
    return Injected(size, radius, minutes, arrival, start, lon0, lat0, ids), out


def inject_runs(background, category, rng, reps, per_run):
    """Runs of background + ``per_run`` clusters, kept >= 3 km or >= 6 h apart from each other."""
    configs = [
        (s, r, d, a) for a in ARRIVALS for s in SIZES for r in RADII_M for d in DURATIONS_MIN
    ] * reps
    order = rng.permutation(len(configs))
    t0, t1 = min(c.ts for c in background), max(c.ts for c in background)
    spots = [(c.lon, c.lat) for c in background if c.lon is not None]
    n = 0
    for first in range(0, len(order), per_run):
        placed: list[Injected] = []
        extra: list[Complaint] = []
        for index in order[first : first + per_run]:
            minutes = configs[index][2]
            for _ in range(10_000):
                start = t0 + (t1 - t0 - timedelta(minutes=minutes)) * float(rng.uniform())
                centre = spots[int(rng.integers(len(spots)))]
                if all(_apart(p, start, centre) for p in placed):
                    break
            else:
                raise ValueError(
                    f"cannot keep {per_run} clusters apart in the data; lower --per-run"
                )
            inj, reports = _cluster(rng, configs[index], start, centre, n)
            n += 1
            placed.append(inj)
            extra.extend(dataclasses.replace(c, category=category) for c in reports)
        yield placed, [*background, *extra]


def _apart(other: Injected, start: datetime, centre: tuple[float, float]) -> bool:
    dlon, dlat = offset_deg(other.lat, 3000)
    far = abs(centre[0] - other.lon) > dlon or abs(centre[1] - other.lat) > dlat
    return far or abs(start - other.start) > timedelta(hours=6)


def score_injected(placed: list[Injected], found: list[dict]) -> list[dict]:
    """Per injected cluster: found, delay (min), own incident or merged into a real one."""
    rows = []
    for inj in placed:
        ids = {f"report:{i}" for i in inj.ids}
        best = None
        for inc in found:
            held = ids.intersection(inc["evidence"])
            if len(held) * 2 >= inj.size and (best is None or inc["alert"] < best["alert"]):
                best = inc
        delay = None if best is None else max(0.0, (best["alert"] - inj.start).total_seconds() / 60)
        rows.append(
            {
                "size": inj.size,
                "radius_m": inj.radius_m,
                "duration_min": inj.duration_min,
                "arrival": inj.arrival,
                "start": inj.start.isoformat(),
                "lat": round(inj.lat, 5),
                "lon": round(inj.lon, 5),
                "found": best is not None,
                "delay_min": None if delay is None else round(delay, 2),
                "own": best is not None and best["evidence"][0] in ids,
            }
        )
    return rows


def _summary(rows: list[dict], keys=("arrival", "size", "radius_m", "duration_min")) -> list[dict]:
    table = defaultdict(list)
    for r in rows:
        table[tuple(r[k] for k in keys)].append(r)
    out = []
    for key, group in sorted(table.items()):
        delays = [r["delay_min"] for r in group if r["found"]]
        out.append(
            {
                **dict(zip(keys, key, strict=True)),
                "n": len(group),
                "found": round(sum(r["found"] for r in group) / len(group), 3),
                "own": round(sum(r["own"] for r in group) / len(group), 3),
                "median_delay_min": round(statistics.median(delays), 1) if delays else None,
            }
        )
    return out


def _truth_line(t: dict | None) -> str:
    if t is None:
        return "No ground truth beside the CSV."
    return (
        f"Ground truth: {t['incidents_near_flooded_rw']:.0%} of incidents lie within "
        f"{t['within_m']} m of an RW the agency marked flooded (-3 h..+24 h), against "
        f"{t['single_reports_near_flooded_rw']:.0%} of single reports (chance level); "
        f"{t['incidents_before_agency_flag']} incidents came before the agency's first flag of "
        f"their RW, by a median {t['median_lead_min']} min."
    )


def _markdown(result: dict) -> str:
    m, b = result["method"], result["background"]
    lines = [
        f"# Complaint clusters: {m['input']}",
        "",
        f"{m['reports']} reports ({m['rejected']} rejected rows, {m['unlocated']} unlocated), "
        f"{m['span_days']:.2f} days, tz {m['tz']}; {m['machine']}; {m['runtime_s']:.0f} s.",
        "",
        "| group | reports | incidents | per 30 days | not near a flooded RW, per 30 days |"
        " Possible only |",
        "|---|---|---|---|---|---|",
    ]
    for g, r in b["groups"].items():
        lines.append(
            f"| {g} | {r['reports']} | {r['incidents']} | {r['per_30_days']:.1f} | "
            f"{r.get('unconfirmed_per_30_days', '-')} | {r['possible_only']} |"
        )
    lines += [
        "",
        "| arrival | size | radius m | duration min | n | found | own | median delay min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["injection"]["table"]:
        lines.append(
            f"| {r['arrival']} | {r['size']} | {r['radius_m']} | {r['duration_min']} | {r['n']} | "
            f"{r['found']:.0%} | {r['own']:.0%} | {r['median_delay_min']} |"
        )
    lines += ["", "Target cases (5 reports, radius <= 300 m, duration <= 30 min):", ""]
    for t in result["injection"]["target"]:
        lines.append(
            f"- {t['arrival']} arrivals: found {t['found']:.0%} (goal >= 90 %), "
            f"median delay {t['median_delay_min']} min (goal <= 10), n = {t['n']}"
        )
    null = result["null"]
    lines += [
        "",
        f"Synthetic background without events ({null['reports']} reports over {null['days']} "
        f"days at the data's places and rate): false incidents per 30 days "
        f"{null['incidents_per_30_days'] or 'none'}.",
        "",
        _truth_line(b.get("truth")),
        "",
        "Strongest clusters in the real data alone:",
        "",
        "| first alert | group | count | radius m | lat | lon | flooded RW within 200 m (m) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in b["strongest"]:
        lines.append(
            f"| {r['alert']} | {r['group']} | {r['count']} | {r['radius_m']} | {r['lat']} | "
            f"{r['lon']} | {(r.get('flooded_rw') or {}).get('distance_m', '-')} |"
        )
    return "\n".join(lines) + "\n"


def _background(city, reports, params, span_days, truth_tables) -> dict:
    signals = run_stream(city, reports, params)
    found = incidents(signals)
    per_group: dict[str, dict] = {}
    for c in reports:
        g = per_group.setdefault(
            report_key(c), {"reports": 0, "incidents": 0, "unconfirmed": 0, "possible_only": 0}
        )
        g["reports"] += 1
    for inc in incidents(signals, possible=True):
        per_group[inc["group"]]["possible_only"] += 1
    for inc in found:
        if truth_tables is not None:
            inc["flooded_rw"] = truth_tables.match(inc["lon"], inc["lat"], inc["alert"])
            per_group[inc["group"]]["unconfirmed"] += inc["flooded_rw"] is None
        per_group[inc["group"]]["incidents"] += 1
    for g in per_group.values():
        g["per_30_days"] = round(g["incidents"] * 30 / span_days, 2)
        unconfirmed = g.pop("unconfirmed")
        if truth_tables is not None:
            g["unconfirmed_per_30_days"] = round(unconfirmed * 30 / span_days, 2)
    rows = [_incident_row(i) for i in found]
    strongest = sorted(rows, key=lambda r: (-r["count"], r["p_value"]))[:12]
    out = {"groups": per_group, "incidents": rows, "strongest": strongest}
    if truth_tables is not None:
        out["truth"] = _truth_summary(truth_tables, reports, rows)
    return out


def _truth_summary(tables: Truth, reports: list[Complaint], rows: list[dict]) -> dict:
    """Incidents near a flooded RW, against the same share for single reports (chance level),
    and how long before the agency's first flag of that RW the incident was raised."""
    singles = [tables.match(c.lon, c.lat, c.ts) for c in reports if c.lon is not None]
    matched = [r["flooded_rw"] for r in rows if r.get("flooded_rw")]
    leads = [m["agency_lead_min"] for m in matched if m["agency_lead_min"] > 0]
    return {
        "within_m": 200,
        "incidents_near_flooded_rw": round(len(matched) / max(len(rows), 1), 3),
        "single_reports_near_flooded_rw": round(
            sum(m is not None for m in singles) / max(len(singles), 1), 3
        ),
        "incidents_before_agency_flag": len(leads),
        "median_lead_min": statistics.median(leads) if leads else None,
    }


def _incident_row(inc: dict) -> dict:
    row = {k: v for k, v in inc.items() if k not in ("evidence", "possible")}
    row["alert"] = inc["alert"].isoformat(timespec="minutes")
    return row


def _injection(city, background, params, args, rng) -> dict:
    category = args.inject_category
    rows: list[dict] = []
    runs = list(inject_runs(background, category, rng, args.reps, args.per_run))
    for n, (placed, reports) in enumerate(runs, start=1):
        rows.extend(score_injected(placed, incidents(run_stream(city, reports, params))))
        print(f"injection run {n}/{len(runs)}", file=sys.stderr)
    target = [
        r
        for r in rows
        if r["size"] == TARGET["size"]
        and r["radius_m"] <= TARGET["radius_m"]
        and r["duration_min"] <= TARGET["duration_min"]
    ]
    return {
        "category": category,
        "clusters": rows,
        "table": _summary(rows),
        "target": _summary(target, keys=("arrival",)),
    }


def _null_rate(city, located, params, rng, days: float) -> dict:
    """False incidents on a synthetic background without events: the data's own places (jittered
    by 300 m) at uniform random times, at the data's mean rate, for ``days`` days."""
    span = max(c.ts for c in located) - min(c.ts for c in located)
    n = int(len(located) * days * 86400 / max(span.total_seconds(), 3600))
    t0 = min(c.ts for c in located)
    picks = rng.integers(len(located), size=n)
    seconds = np.sort(rng.uniform(0, days * 86400, n))
    reports = []
    for i, (k, sec) in enumerate(zip(picks, seconds, strict=True)):
        c = located[int(k)]
        dlon, dlat = offset_deg(c.lat, 300)
        jitter = rng.normal(0, 1, 2)
        reports.append(
            dataclasses.replace(
                c,
                id=f"null{i}",
                ts=t0 + timedelta(seconds=float(sec)),
                lat=c.lat + dlat * jitter[1],
                lon=c.lon + dlon * jitter[0],
                reporter=None,
            )
        )
    found = incidents(run_stream(city, reports, params))
    per_group = Counter(i["group"] for i in found)
    return {
        "days": days,
        "reports": n,
        "incidents_per_30_days": {g: round(k * 30 / days, 2) for g, k in per_group.items()},
    }


def _machine() -> str:
    import scipy
    import shapely as shp

    return (
        f"{platform.machine()} {platform.system()}, {__import__('os').cpu_count()} CPU, "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__},"
        f" shapely {shp.__version__}"
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kendali bench complaints", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("reports_csv", type=Path, help="CSV: created_at, lat, lon [, category, text]")
    p.add_argument("--out", type=Path, required=True, help="folder for complaints.json/.md")
    p.add_argument("--tz", help="zone of naive times (Asia/Jakarta, UTC+7); default: README note")
    p.add_argument("--city", help="city folder (places, zones, routing); default: from the data")
    p.add_argument("--recurrence-days", type=float, default=ReportParams().recurrence_days)
    p.add_argument("--reps", type=int, default=10, help="injected clusters per configuration")
    p.add_argument(
        "--per-run", type=int, help="injected clusters per replay; default 4 per day, >= 12"
    )
    p.add_argument("--inject-category", default=None, help="default: the data's commonest one")
    p.add_argument("--null-days", type=float, default=30.0, help="synthetic null background")
    p.add_argument("--seed", type=int, default=2017)
    return p


def _load(args) -> tuple[list[Complaint], int, tzinfo]:
    spec = args.tz or guess_tz(args.reports_csv)
    if spec is None:
        raise ValueError("the CSV's time zone is unknown: give --tz (e.g. Asia/Jakarta, UTC+7)")
    tz = parse_tz(spec)
    rows = list(read_reports_csv(args.reports_csv, tz))
    good = [r for r in rows if not isinstance(r, CsvRejected)]
    if not good:
        raise ValueError(f"{args.reports_csv}: no readable report")
    return good, len(rows) - len(good), tz


def _run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    reports, rejected, tz = _load(args)
    base = load_city(args.city or Settings().city)
    city = base if args.city else data_city(reports, tz, base, args.reports_csv.parent.name)
    params = dataclasses.replace(ReportParams(), recurrence_days=args.recurrence_days)
    located = [c for c in reports if not isinstance(locate(c, city), str)]
    if not located:
        raise ValueError(f"no report of {args.reports_csv} could be located in {city.name}")
    span = max(c.ts for c in reports) - min(c.ts for c in reports)
    span_days = max(span.total_seconds() / 86400, 1e-3)
    print(f"{len(reports)} reports over {span_days:.2f} days; background run", file=sys.stderr)
    background = _background(city, located, params, span_days, load_truth(args.reports_csv.parent))
    args.per_run = args.per_run or max(12, int(4 * span_days))
    commonest = Counter(classify(c) for c in located).most_common(1)[0][0]
    args.inject_category = args.inject_category or commonest
    rng = np.random.default_rng(args.seed)
    injection = _injection(city, located, params, args, rng)
    print("synthetic null background", file=sys.stderr)
    null = _null_rate(city, located, params, rng, args.null_days)
    method = {
        "input": str(args.reports_csv),
        "reports": len(reports),
        "rejected": rejected,
        "unlocated": len(reports) - len(located),
        "span_days": span_days,
        "tz": str(tz),
        "params": dataclasses.asdict(params),
        "sizes": SIZES,
        "radii_m": RADII_M,
        "durations_min": DURATIONS_MIN,
        "arrivals": ARRIVALS,
        "reps": args.reps,
        "per_run": args.per_run,
        "seed": args.seed,
        "machine": _machine(),
        "runtime_s": time.perf_counter() - started,
    }
    return {"method": method, "background": background, "injection": injection, "null": null}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result = _run(args)
    except (OSError, ValueError) as exc:
        print(f"kendali bench complaints: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "complaints.json").write_bytes(
        orjson.dumps(result, option=orjson.OPT_INDENT_2, default=str)
    )
    (args.out / "complaints.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0
