"""The NAB scorer reproduces NAB's own numbers on the shared subset and obeys its rules."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.nab_scoring import (
    PROFILES,
    FileRows,
    file_counts,
    load_corpus,
    normalised,
    score_corpus,
    sweep,
)
from kendali.settings import Settings

NAB = Path(Settings().data_dir) / "nab"
needs_nab = pytest.mark.skipif(not NAB.is_dir(), reason=f"NAB data not found at {NAB}")
STD = PROFILES["standard"]


@needs_nab
def test_published_numenta_normalised_scores_reproduce():
    got = score_corpus(NAB / "published" / "numenta", NAB / "labels" / "combined_windows.json")
    assert {p: round(r["score"], 2) for p, r in got.items()} == {
        "standard": 78.36,
        "reward_low_FP_rate": 73.04,
        "reward_low_FN_rate": 82.24,
    }


@needs_nab
@pytest.mark.parametrize("profile", list(PROFILES))
def test_published_per_file_rows_reproduce(profile):
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    p = PROFILES[profile]
    files = {f.name: f for f in load_corpus(NAB / "published" / "numenta", labels, p)}
    path = NAB / "published" / "numenta" / f"numenta_{profile}_scores.csv"
    rows = [r for r in csv.DictReader(path.open()) if r["File"] in files]
    assert len(rows) == 18
    for row in rows:
        got = file_counts(files[row["File"]], float(row["Threshold"]), p.fn)
        for key in ("TP", "TN", "FP", "FN", "Total_Count"):
            assert got[key] == int(row[key]), (row["File"], key)
        assert got["Score"] == pytest.approx(float(row["Score"]), abs=1e-9), row["File"]


def synthetic(scores, windows=((900, 999),)):
    return FileRows("c/f.csv", np.array(scores, float), list(windows), STD)


def test_perfect_and_null_detectors_normalise_to_100_and_0():
    perfect = np.zeros(2000)
    perfect[900] = 1.0
    assert normalised(sweep([synthetic(perfect)]).score, 1, STD) == pytest.approx(100.0)
    null = sweep([synthetic(np.full(2000, 0.5))])
    assert (null.threshold, normalised(null.score, 1, STD)) == (1.1, 0.0)


def test_probation_rows_never_count_and_late_detection_earns_less():
    early = np.zeros(2000)
    early[[10, 950]] = 1.0  # row 10 lies in the probation period (300 rows)
    late = np.zeros(2000)
    late[990] = 1.0
    assert sweep([synthetic(early)]).score == pytest.approx(0.848284 / 0.986614, abs=1e-6)
    assert 0 < sweep([synthetic(late)]).score < 0.3


def test_false_positive_costs_depend_on_distance_to_the_window():
    before, right_after, far_after = np.zeros(2000), np.zeros(2000), np.zeros(2000)
    for arr, fp in ((before, 500), (right_after, 1001), (far_after, 1100)):
        arr[[900, fp]] = 1.0
    counts = [
        file_counts(synthetic(a), 1.0, 1.0)["Score"] for a in (before, right_after, far_after)
    ]
    assert counts[0] == pytest.approx(1 - 0.11)
    assert 1 - 0.11 < counts[2] < counts[1] < 1.0 and counts[2] < 1 - 0.1
