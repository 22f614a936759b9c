"""The recovery store remembers the shard count its detector state is keyed by."""

from __future__ import annotations

import dataclasses

import pytest

from kendali.cli import main
from kendali.processes import LAYOUT_FILE, RecoveryMismatch, init_recovery
from kendali.settings import Settings


def _settings(path, shards: int) -> Settings:
    base = Settings()
    flow = dataclasses.replace(base.flow, recovery_dir=str(path), traffic_shards=shards)
    return dataclasses.replace(base, flow=flow)


def test_a_store_of_another_shard_count_is_refused_until_fresh(tmp_path):
    store = tmp_path / "recovery"
    init_recovery(_settings(store, 8))
    assert init_recovery(_settings(store, 8)) == store  # same layout: reused as it is
    with pytest.raises(RecoveryMismatch, match="traffic_shards=8, the settings say 16"):
        init_recovery(_settings(store, 16))
    init_recovery(_settings(store, 16), fresh=True)
    assert (store / LAYOUT_FILE).read_text() == '{"traffic_shards":16}'


def test_a_store_from_before_the_stamp_counts_as_sixteen_shards(tmp_path):
    store = tmp_path / "recovery"
    init_recovery(_settings(store, 16))
    (store / LAYOUT_FILE).unlink()
    init_recovery(_settings(store, 16))
    with pytest.raises(RecoveryMismatch, match="traffic_shards=16"):
        init_recovery(_settings(store, 8))


def test_kendali_run_says_what_to_do_and_starts_nothing(tmp_path, monkeypatch, capsys):
    store = tmp_path / "recovery"
    init_recovery(_settings(store, 16))
    monkeypatch.setenv("KENDALI_FLOW_RECOVERY_DIR", str(store))
    monkeypatch.setenv("KENDALI_FLOW_TRAFFIC_SHARDS", "8")
    assert main(["run"]) == 1
    assert "restart with --fresh" in capsys.readouterr().err
