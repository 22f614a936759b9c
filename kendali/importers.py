"""``kendali import``: bring data that already exists into Kendali's topics.

ATCS/SCATS detector exports (wide or long CSV), call-centre report logs (CSV), gauge telemetry
(CSV or JSON, a file or an HTTP URL) and CAP 1.2 warnings (a file or a URL). Rows a file cannot
give are counted and the first reasons shown; nothing is silently skipped. ``kendali city
scats`` turns a SCATS locations file into a city folder, so a real export can be replayed as
a second city.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

from kendali.codec import encode
from kendali.settings import Settings
from sources.publish import KafkaPublisher

__all__ = ["add_import_parser", "write_scats_city"]


def _report(kind: str, sent: int, rejected: Iterable[str], target: str) -> None:
    rejected = list(rejected)
    print(f"{kind}: {sent} published to {target}; {len(rejected)} rows refused", file=sys.stderr)
    for reason in rejected[:5]:
        print(f"  refused: {reason}", file=sys.stderr)


def _atcs(settings: Settings, args, publish: KafkaPublisher) -> None:
    from sources.scats import read_long, read_wide, replay

    tz = ZoneInfo(args.tz)
    read = read_wide if args.format == "wide" else read_long
    readings, refused = read(args.source, tz)
    sent = replay(readings, lambda k, v: publish("traffic", k, v), speedup=args.speedup)
    _report("atcs", sent, refused, settings.topics.traffic)


def _reports(settings: Settings, args, publish: KafkaPublisher) -> None:
    from sources.reports_csv import CsvRejected, parse_tz, read_reports_csv

    sent, rejected = 0, []
    for item in read_reports_csv(
        args.source, parse_tz(args.tz), pseudonym_key=settings.pseudonym_key
    ):
        if isinstance(item, CsvRejected):
            rejected.append(f"line {item.line}: {item.reason}")
            continue
        publish("complaints", item.id.encode(), encode(item))
        sent += 1
    _report("reports", sent, rejected, settings.topics.complaints)


def _telemetry(settings: Settings, args, publish: KafkaPublisher) -> None:
    from sources.telemetry import pull, read_telemetry

    tz = ZoneInfo(args.tz)
    got = pull(args.source, tz) if "://" in args.source else read_telemetry(args.source, tz)
    for reading in got.readings:
        publish("hydromet", reading.station.encode(), encode(reading))
    _report("telemetry", len(got.readings), got.rejected, settings.topics.hydromet)


def _cap(settings: Settings, args, publish: KafkaPublisher) -> None:
    from sources.cap import parse_cap, read_cap

    raw = read_cap(args.source)
    alert = parse_cap(raw)  # refuse here what the dataflow would dead-letter
    publish("warnings", alert.identifier.encode(), raw)
    _report("cap", 1, (), settings.topics.warnings)


IMPORTERS = {"atcs": _atcs, "reports": _reports, "telemetry": _telemetry, "cap": _cap}


def run_import(settings: Settings, args: argparse.Namespace) -> int:
    publisher = KafkaPublisher(settings, **{"message.max.bytes": 2_000_000})
    try:
        IMPORTERS[args.kind](settings, args, publisher)
    finally:
        publisher.flush()
    return 0


def write_scats_city(locations_csv: str, out: str, template: Path) -> Path:
    """A city folder for a SCATS network: detectors from the locations file, the rest copied.

    Zones, places and routing come from ``template`` (edit them for the real city); the
    detector links are inferred by :func:`sources.scats.scats_detectors`.
    """
    import csv

    from sources.scats import scats_detectors

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    detectors = scats_detectors(locations_csv)
    with (folder / "detectors.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["detector_id", "intersection", "intersection_name", "approach", "road",
                         "lat", "lon", "speed_limit_kmh", "capacity_vph", "upstream",
                         "downstream"])  # fmt: skip
        for d in detectors.values():
            writer.writerow([d.id, d.intersection, d.intersection_name, d.approach, d.road, d.lat,
                             d.lon, d.speed_limit_kmh, d.capacity_vph, d.upstream or "",
                             d.downstream or ""])  # fmt: skip
    lons = [d.lon for d in detectors.values()]
    lats = [d.lat for d in detectors.values()]
    west, east, south, north = (
        min(lons) - 0.01,
        max(lons) + 0.01,
        min(lats) - 0.01,
        max(lats) + 0.01,
    )
    (folder / "zones.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"kode": "net", "nama": "SCATS network"}, "geometry": {"type": "Polygon", "coordinates": '
        f"[[[{west}, {south}], [{east}, {south}], [{east}, {north}], [{west}, {north}], "
        f"[{west}, {south}]]]}}}}]}}"
    )
    shutil.copy(template / "routing.toml", folder / "routing.toml")
    (folder / "city.toml").write_text(
        f'name = "SCATS network ({Path(locations_csv).parent.name})"\n'
        'timezone = "Australia/Melbourne"\n'
        f"center = [{(west + east) / 2:.5f}, {(south + north) / 2:.5f}]\n"
        f"bbox = [{west:.5f}, {south:.5f}, {east:.5f}, {north:.5f}]\n\n[files]\n"
        'detectors = "detectors.csv"\nzones = "zones.geojson"\nrouting = "routing.toml"\n'
    )
    return folder


def add_import_parser(sub, run, city) -> None:
    """The ``import`` and ``city`` subcommands (wired by :mod:`kendali.cli`)."""
    p = sub.add_parser(
        "import", help="publish existing data (ATCS export, reports, telemetry, CAP)"
    )
    p.add_argument("kind", choices=sorted(IMPORTERS))
    p.add_argument("source", help="a file, or for telemetry and CAP an http(s) URL")
    p.add_argument("--tz", default="Asia/Makassar", help="zone of local times in the file")
    p.add_argument("--format", choices=("wide", "long"), default="wide", help="ATCS export layout")
    p.add_argument(
        "--speedup",
        type=float,
        default=0.0,
        help="ATCS: pace the replay at this many times real time (0: as fast as possible)",
    )
    p.set_defaults(func=run)

    p = sub.add_parser("city", help="make a city folder from a SCATS locations file")
    p.add_argument("kind", choices=("scats",))
    p.add_argument("locations", help="scats_locations.csv (site, location, lat, lon)")
    p.add_argument("out", help="folder to write the city into")
    p.set_defaults(func=city)
