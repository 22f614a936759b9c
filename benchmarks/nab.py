"""NAB runner: stream every file of a NAB-layout folder through Kendali and the baselines, score.

``kendali bench nab DATA_DIR OUT_DIR [--labels FILE] [--published DIR]`` reads every
``DATA_DIR/<category>/<file>.csv`` (``timestamp,value``), writes
``OUT_DIR/<detector>/<category>/<file>.csv`` (``timestamp,anomaly_score``, one row per data row,
same order) for Kendali's :class:`~detectors.traffic_stream.StreamScorer` and two baselines run
in the same process: NAB's windowed Gaussian and river's HalfSpaceTrees fed every reading (the
common Bytewax-example pattern). With ``--labels`` it scores every detector (and the published
results in ``--published``, if given) on the three NAB profiles and writes ``nab.json`` and
``nab.md`` into OUT_DIR.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from river import anomaly, preprocessing

from benchmarks.nab_scoring import PROFILES, score_corpus
from detectors.traffic_stream import StreamScorer

__all__ = ["DETECTORS", "HalfSpaceTreesBaseline", "WindowedGaussian", "main", "run_file"]


class WindowedGaussian:
    """NAB's windowedGaussian baseline (window 6400 rows, refreshed every 100), as published.

    >>> w = WindowedGaussian()
    >>> [round(w.score_one(None, v), 3) for v in (1.0, 2.0, 1.0, 9.0)]
    [0.0, 1.0, 0.841, 1.0]
    """

    def __init__(self, window: int = 6400, step: int = 100) -> None:
        self.window, self.step = window, step
        self._data: list[float] = []
        self._buffer: list[float] = []
        self._mean, self._std = 0.0, 1e-6

    def score_one(self, ts: datetime | None, value: float) -> float:
        score = 1.0 - self._probability(value) if self._data else 0.0
        if len(self._data) < self.window:
            self._data.append(value)
            self._refresh()
        else:
            self._buffer.append(value)
            if len(self._buffer) == self.step:
                self._data = self._data[self.step :] + self._buffer
                self._buffer = []
                self._refresh()
        return score

    def _refresh(self) -> None:
        data = np.asarray(self._data)
        self._mean = float(data.mean())
        self._std = float(data.std()) or 1e-6

    def _probability(self, x: float) -> float:
        if x < self._mean:
            return self._probability(2 * self._mean - x)
        return 0.5 * math.erfc((x - self._mean) / self._std / math.sqrt(2))


class HalfSpaceTreesBaseline:
    """river ``MinMaxScaler | HalfSpaceTrees`` scoring then learning every reading."""

    def __init__(self, seed: int = 42) -> None:
        self.model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=seed)

    def score_one(self, ts: datetime | None, value: float) -> float:
        x = {"value": value}
        score = self.model.score_one(x)
        self.model.learn_one(x)
        return min(max(float(score), 0.0), 1.0)


DETECTORS: dict[str, Callable[[], object]] = {
    "kendali": StreamScorer,
    "windowedGaussian": WindowedGaussian,
    "riverHST": HalfSpaceTreesBaseline,
}


def run_file(data: Path, out: Path, factory: Callable[[], object]) -> int:
    """Stream one NAB data file through a fresh detector and write its results; returns rows."""
    with data.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    detector = factory()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "anomaly_score"])
        for row in rows:
            ts = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC)
            writer.writerow(
                [row["timestamp"], repr(float(detector.score_one(ts, float(row["value"]))))]
            )
    return len(rows)


def _table(scores: dict) -> str:
    lines = ["| detector | " + " | ".join(PROFILES) + " |", "|---|---:|---:|---:|"]
    for name, result in scores.items():
        cells = " | ".join(f"{result[p]['score']:.2f}" for p in PROFILES)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="kendali bench nab", description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", type=Path, help="NAB-layout folder: <category>/<file>.csv")
    ap.add_argument("out_dir", type=Path, help="where to write results, nab.json and nab.md")
    ap.add_argument("--labels", type=Path, help="NAB combined_windows.json to score against")
    ap.add_argument("--published", type=Path, help="published results folder to score too")
    ap.add_argument("--detectors", default=",".join(DETECTORS), help="comma-separated subset")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    files = sorted(args.data_dir.glob("*/*.csv"))
    names = [d.strip() for d in args.detectors.split(",") if d.strip()]
    unknown = [d for d in names if d not in DETECTORS]
    if not files or unknown:
        why = f"unknown detector(s) {unknown}" if unknown else f"no */*.csv in {args.data_dir}"
        print(f"kendali bench nab: {why}", file=sys.stderr)
        return 2
    timing = {}
    for name in names:
        start, rows = time.perf_counter(), 0
        for f in files:
            print(f"[{name}] {f.parent.name}/{f.name}", file=sys.stderr)
            out = args.out_dir / name / f.parent.name / f.name
            rows += run_file(f, out, DETECTORS[name])
        timing[name] = {"rows": rows, "seconds": round(time.perf_counter() - start, 2)}
    report = {"method": _method(files), "timing": timing}
    if args.labels:
        scored = {n: score_corpus(args.out_dir / n, args.labels) for n in names}
        if args.published:
            scored[f"{args.published.name} (published)"] = score_corpus(args.published, args.labels)
        report["scores"] = scored
        table = _table(scored)
        print(table)
        (args.out_dir / "nab.md").write_text(f"# NAB results\n\n{table}\n\n{_md_method(report)}")
    (args.out_dir / "nab.json").write_text(json.dumps(report, indent=2, default=float))
    return 0


def _method(files: list[Path]) -> dict:
    return {
        "files": len(files),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor_count": os.cpu_count(),
        "threshold": "one global threshold per detector and profile, exhaustive sweep (NAB)",
        "timestamps": "NAB local times treated as UTC; no look-ahead, no inputMin/inputMax",
    }


def _md_method(report: dict) -> str:
    m = report["method"]
    lines = [
        f"{m['files']} files, Python {m['python']}, {m['processor_count']} CPUs; {m['threshold']}."
    ]
    lines += [f"- {n}: {t['rows']} rows in {t['seconds']} s" for n, t in report["timing"].items()]
    return "\n".join(lines) + "\n"
