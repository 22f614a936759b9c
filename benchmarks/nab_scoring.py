"""The NAB scorer, written from NAB's published algorithm (``../shared/data/nab/SCORING.md``).

Label windows become row ranges; every non-probationary row gets the weighted value it would
earn if it were a detection (scaled sigmoid inside and after windows); one global threshold per
profile is chosen by an exhaustive sweep over all distinct scores of the corpus; the raw score is
normalised between the null detector (0) and the perfect detector (100).

>>> round(scaled_sigmoid(-1.0), 6), scaled_sigmoid(3.5)
(0.986614, -1.0)
>>> f = FileRows("a/x.csv", np.array([0.0, 0.0, 0.9, 0.0]), [(2, 3)], PROFILES["standard"])
>>> [round(float(v), 3) for v in f.values]
[-0.11, -0.11, 1.0, 0.86]
>>> sweep([f]).score, normalised(sweep([f]).score, 1, PROFILES["standard"])
(1.0, 100.0)
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

__all__ = [
    "PROFILES",
    "FileRows",
    "Profile",
    "Sweep",
    "file_counts",
    "load_corpus",
    "normalised",
    "scaled_sigmoid",
    "score_corpus",
    "sweep",
]


@dataclass(frozen=True, slots=True)
class Profile:
    """Weights of one NAB application profile."""

    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile(1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile(1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile(1.0, 0.11, 2.0),
}


def scaled_sigmoid(y: float) -> float:
    """NAB's scaled sigmoid: 2*sigmoid(-5y) - 1, and -1 beyond three window widths."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


_MAX_TP = scaled_sigmoid(-1.0)


def probation(n: int) -> int:
    """Rows at the start of a file that are never scored.

    >>> probation(4032), probation(2500)
    (604, 375)
    """
    return min(math.floor(0.15 * n), 750)


class FileRows:
    """The scorable rows of one file: anomaly score, weighted value, window index (-1 = none)."""

    def __init__(
        self, name: str, scores: np.ndarray, windows: Sequence[tuple[int, int]], p: Profile
    ) -> None:
        n = len(scores)
        values = np.empty(n)
        window = np.full(n, -1)
        prev: tuple[int, int] | None = None
        starts = {lo: (k, hi) for k, (lo, hi) in enumerate(windows)}
        cur: tuple[int, int, int] | None = None
        for i in range(n):
            if cur is None and i in starts:
                k, hi = starts[i]
                cur = (k, i, hi)
            if cur is not None:
                k, lo, hi = cur
                values[i] = scaled_sigmoid(-(hi - i + 1) / (hi - lo + 1)) * p.tp / _MAX_TP
                window[i] = k
                if i == hi:
                    prev, cur = (lo, hi), None
            elif prev is None:
                values[i] = -p.fp
            else:
                values[i] = scaled_sigmoid(abs(prev[1] - i) / (prev[1] - prev[0])) * p.fp
        keep = probation(n)
        self.name = name
        self.n = n
        self.scores = np.asarray(scores, float)[keep:]
        self.values = values[keep:]
        self.window = window[keep:]
        self.windows = sorted({int(w) for w in self.window if w >= 0})


@dataclass(frozen=True, slots=True)
class Sweep:
    """Best global threshold and the corpus raw score it earns."""

    threshold: float
    score: float


def sweep(files: Sequence[FileRows], fn: float = 1.0) -> Sweep:
    """Exhaustive threshold sweep over every distinct score, highest first (ties: higher wins)."""
    ids, offset = [], 0
    for f in files:
        ids.append(np.where(f.window >= 0, f.window + offset, -1))
        offset += max(f.windows, default=-1) + 1
    scores = np.concatenate([f.scores for f in files])
    values = np.concatenate([f.values for f in files])
    wins = np.concatenate(ids) if ids else np.array([], int)
    n_windows = sum(len(f.windows) for f in files)
    order = np.argsort(-scores, kind="stable")
    best = np.full(offset, np.nan)
    total = -fn * n_windows
    top = Sweep(1.1, float(total))
    for j, i in enumerate(order):
        w = wins[i]
        if w < 0:
            total += values[i]
        elif np.isnan(best[w]):
            total += values[i] + fn
            best[w] = values[i]
        elif values[i] > best[w]:
            total += values[i] - best[w]
            best[w] = values[i]
        last = j + 1 == len(order) or scores[order[j + 1]] != scores[i]
        if last and total > top.score + 1e-12:
            top = Sweep(float(scores[i]), float(total))
    return top


def file_counts(f: FileRows, threshold: float, fn: float) -> dict:
    """NAB's per-file row at a threshold: Score, TP, TN, FP, FN (record-level counts)."""
    hit = f.scores >= threshold
    inside = f.window >= 0
    score = float(np.sum(f.values[hit & ~inside]))
    for w in f.windows:
        in_w = hit & (f.window == w)
        score += float(f.values[in_w].max()) if in_w.any() else -fn
    return {
        "Score": score,
        "TP": int(np.sum(hit & inside)),
        "TN": int(np.sum(~hit & ~inside)),
        "FP": int(np.sum(hit & ~inside)),
        "FN": int(np.sum(~hit & inside)),
        "Total_Count": f.n,
    }


def normalised(raw: float, n_windows: int, p: Profile) -> float:
    """100 * (raw - null) / (perfect - null); null = -A_FN * N, perfect = A_TP * N."""
    null, perfect = -p.fn * n_windows, p.tp * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def _read_series(path: Path, column: str) -> tuple[list[str], np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [_norm_ts(r["timestamp"]) for r in rows], np.array([float(r[column]) for r in rows])


def _norm_ts(text: str) -> str:
    return datetime.fromisoformat(text.strip()).isoformat(sep=" ")


def load_corpus(
    results_dir: Path, labels: Mapping[str, list], profile: Profile, prefix: str = ""
) -> list[FileRows]:
    """Read ``<results>/<category>/<prefix><file>.csv`` for every labelled file.

    Raises ``FileNotFoundError`` naming the first missing result file.
    """
    out = []
    for name, windows in sorted(labels.items()):
        category, _, file = name.partition("/")
        ts, scores = _read_series(results_dir / category / f"{prefix}{file}", "anomaly_score")
        index = {t: i for i, t in enumerate(ts)}
        rows = [(index[_norm_ts(a)], index[_norm_ts(b)]) for a, b in windows]
        out.append(FileRows(name, scores, rows, profile))
    return out


def score_corpus(results_dir: Path, labels_file: Path, prefix: str = "") -> dict:
    """Three-profile NAB scores (threshold, raw, normalised) of one results directory."""
    labels = json.loads(Path(labels_file).read_text())
    n_windows = sum(len(w) for w in labels.values())
    out = {}
    for name, p in PROFILES.items():
        files = load_corpus(Path(results_dir), labels, p, prefix)
        best = sweep(files, p.fn)
        out[name] = {
            "threshold": float(best.threshold),
            "raw": float(best.score),
            "score": float(normalised(best.score, n_windows, p)),
        }
    return out
