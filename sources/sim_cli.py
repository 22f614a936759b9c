"""Run the city simulator offline: write its streams and truth to files and time the generator.

``python -m sources.sim_cli --out DIR`` writes ``truth.jsonl``, ``summary.json`` and
``summary.md`` (and ``events.jsonl`` with ``--events``: one ``{"topic", "key", "value"}`` object
per line, ``value`` being the record as on the wire), so that benchmarks and replays can use the
same simulated city without a broker. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import Counter
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from kendali.city import CityError, load_city
from kendali.codec import encode
from kendali.settings import Settings
from sources.sim_scenario import ScenarioError
from sources.simulator import CitySimulator, load_scenario

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sources.sim_cli", description=__doc__.split("\n")[0]
    )
    p.add_argument("--city", default=Settings().city, help="city folder (default: settings)")
    p.add_argument("--scenario", default=None, help="scenario TOML (default: the city's, if any)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument(
        "--start",
        default=None,
        help="scenario start, ISO 8601 with offset (default: the current hour minus --live-hours)",
    )
    p.add_argument("--backfill-days", type=float, default=7.0, help="history before start")
    p.add_argument("--live-hours", type=float, default=6.0, help="simulated time after start")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--events", action="store_true", help="also write events.jsonl")
    return p


def _start(text: str | None, live_hours: float, tz) -> datetime:
    if text is None:
        hour = datetime.now(tz).replace(minute=0, second=0, microsecond=0)
        return hour - timedelta(hours=live_hours)
    start = datetime.fromisoformat(text)
    if start.tzinfo is None:
        raise ValueError(f"--start {text!r} needs a UTC offset, e.g. {text}+08:00")
    return start


def _simulate(sim: CitySimulator, until: datetime, sink) -> tuple[Counter, float]:
    counts: Counter = Counter()
    began = time.perf_counter()
    mark = sim.origin
    while mark < until:
        mark = min(until, mark + timedelta(days=1))
        for event in sim.events(mark):
            value = encode(event.record)
            counts[event.topic_kind] += 1
            if sink is not None:
                line = {
                    "topic": event.topic_kind,
                    "key": event.key,
                    "value": orjson.Fragment(value),
                }
                sink.write(orjson.dumps(line) + b"\n")
        print(f"simulated to {mark.isoformat()}: {sum(counts.values())} events", file=sys.stderr)
    return counts, time.perf_counter() - began


def _summary(args, sim: CitySimulator, counts: Counter, seconds: float, detectors: int) -> dict:
    total = sum(counts.values())
    return {
        "method": "generate every event and encode it with kendali.codec.encode, one process",
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}"
        f", numpy {np.__version__}",
        "seed": args.seed,
        "start": sim.start.isoformat(),
        "backfill_days": args.backfill_days,
        "live_hours": args.live_hours,
        "detectors": detectors,
        "events": dict(counts),
        "seconds": round(seconds, 3),
        "events_per_second": round(total / seconds) if seconds else None,
        "truth_incidents": len(sim.truth),
    }


def _markdown(s: dict) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in s["events"].items())
    return (
        f"# Simulator run\n\n{s['method']}; {s['machine']}.\n\n"
        f"{s['backfill_days']} days of backfill + {s['live_hours']} h, {s['detectors']} "
        f"detectors, seed {s['seed']}: {s['seconds']} s, {s['events_per_second']} events/s, "
        f"{s['truth_incidents']} truth incidents.\n\n| stream | events |\n|---|---|\n{rows}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Simulate, write the files, print the summary; one-line errors, exit code 2 on bad input."""
    args = _parser().parse_args(argv)
    try:
        city = load_city(args.city)
        path = Path(args.scenario or Path(args.city) / "scenario.toml")
        scenario = load_scenario(path) if args.scenario or path.exists() else None
        start = _start(args.start, args.live_hours, city.tz)
        backfill = timedelta(days=args.backfill_days)
        sim = CitySimulator(city, scenario, seed=args.seed, start=start, backfill=backfill)
    except (CityError, ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    until = start + timedelta(hours=args.live_hours)
    with (out / "events.jsonl").open("wb") if args.events else nullcontext() as sink:
        counts, seconds = _simulate(sim, until, sink)
    sim.write_truth(out / "truth.jsonl")
    summary = _summary(args, sim, counts, seconds, len(city.detectors))
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    (out / "summary.md").write_text(_markdown(summary), encoding="utf-8")
    print(_markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
