"""NAB runner: NAB layout in and out, baselines in the same run, published baseline reproduced."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks import nab
from kendali.settings import Settings

FMT = "%Y-%m-%d %H:%M:%S"
NAB = Path(Settings().data_dir) / "nab"


def make_corpus(root: Path) -> Path:
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    (root / "cat").mkdir(parents=True)
    with (root / "cat" / "s.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        for i in range(1200):
            w.writerow([(t0 + timedelta(minutes=5 * i)).strftime(FMT), 50 if i == 1000 else i % 7])
    labels = root / "labels.json"
    window = [(t0 + timedelta(minutes=5 * i)).strftime(FMT) for i in (960, 1020)]
    labels.write_text(json.dumps({"cat/s.csv": [window]}))
    return labels


def test_runner_writes_nab_layout_and_scores_every_detector(tmp_path, capsys):
    labels = make_corpus(tmp_path / "data")
    out = tmp_path / "out"
    assert nab.main([str(tmp_path / "data"), str(out), "--labels", str(labels)]) == 0
    for det in nab.DETECTORS:
        rows = list(csv.DictReader((out / det / "cat" / "s.csv").open()))
        assert len(rows) == 1200 and rows[5]["timestamp"] == "2020-01-01 00:25:00"
        assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
    report = json.loads((out / "nab.json").read_text())
    assert report["scores"]["kendali"]["standard"]["score"] > 50
    assert "| kendali |" in capsys.readouterr().out and (out / "nab.md").exists()


def test_bad_arguments_give_a_one_line_error(tmp_path, capsys):
    assert nab.main([str(tmp_path), str(tmp_path / "o")]) == 2
    assert nab.main([str(tmp_path), str(tmp_path / "o"), "--detectors", "nope"]) == 2
    assert capsys.readouterr().err.count("\n") == 2


@pytest.mark.skipif(not NAB.is_dir(), reason=f"NAB data not found at {NAB}")
def test_windowed_gaussian_reproduces_its_published_score(tmp_path):
    args = [
        str(NAB / "data"),
        str(tmp_path),
        "--labels",
        str(NAB / "labels" / "combined_windows.json"),
    ]
    assert nab.main([*args, "--detectors", "windowedGaussian"]) == 0
    scores = json.loads((tmp_path / "nab.json").read_text())["scores"]["windowedGaussian"]
    assert round(scores["standard"]["score"], 2) == 47.39


@pytest.mark.skipif(not NAB.is_dir(), reason=f"NAB data not found at {NAB}")
def test_kendali_beats_the_published_numenta_score_on_the_shared_files(tmp_path):
    args = [
        str(NAB / "data"),
        str(tmp_path),
        "--labels",
        str(NAB / "labels" / "combined_windows.json"),
    ]
    assert nab.main([*args, "--detectors", "kendali"]) == 0
    scores = json.loads((tmp_path / "nab.json").read_text())["scores"]["kendali"]
    assert scores["standard"]["score"] > 78.4
    assert scores["reward_low_FP_rate"]["score"] > 73.1
    assert scores["reward_low_FN_rate"]["score"] > 82.3
