"""The complaint-cluster benchmark on a small synthetic CSV (the real data runs in the docs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.complaints import guess_tz, main
from kendali.settings import Settings


def write_csv(path: Path, n: int = 300, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.uniform(0, 3 * 1440, n))
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["created_at", "lat", "lon", "text"])
        for m in minutes:
            h, rest = divmod(int(m), 60)
            d, h = divmod(h, 24)
            lat, lon = rng.uniform(-6.25, -6.15), rng.uniform(106.75, 106.90)
            w.writerow([f"2017-02-{20 + d:02d}T{h:02d}:{rest:02d}:00", lat, lon, "banjir"])
    return path


def test_bench_writes_json_and_markdown(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "README.md").write_text("Times are local, UTC+7.\n")
    csv_path = write_csv(data / "reports.csv")
    out = tmp_path / "out"
    argv = [str(csv_path), "--out", str(out), "--reps", "1", "--per-run", "24", "--null-days", "2"]
    assert main(argv) == 0
    result = json.loads((out / "complaints.json").read_text())
    assert result["method"]["tz"] == "UTC+07:00" and result["method"]["reports"] == 300
    assert len(result["injection"]["clusters"]) == 72
    big = [c for c in result["injection"]["clusters"] if c["size"] == 12 and c["radius_m"] == 100]
    assert all(c["found"] for c in big), big
    assert result["background"]["groups"]["flood"]["incidents"] == 0
    assert "| arrival | size |" in (out / "complaints.md").read_text()


def test_unknown_zone_is_a_one_line_error(tmp_path, capsys):
    csv_path = write_csv(tmp_path / "reports.csv", n=5)
    assert guess_tz(csv_path) is None
    assert main([str(csv_path), "--out", str(tmp_path / "o")]) == 2
    assert "give --tz" in capsys.readouterr().err


def test_real_data_readme_gives_utc_plus_7():
    path = Path(Settings().data_dir) / "complaints/petabencana_jakarta_2017-02/reports.csv"
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    assert guess_tz(path) == "UTC+7"
