"""SeasonalBaseline's batch operations equal its row-by-row ones, bit for bit."""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.baseline import SeasonalBaseline

SLOTS, BINS, MEASURES = 12, 3, 3


def _steps(seed: int, n: int):
    rng = np.random.default_rng(seed)
    for step in range(n):
        k = int(rng.integers(1, SLOTS + 1))
        slot = rng.choice(SLOTS, k, replace=False)
        bin_ = rng.integers(0, BINS, k)
        x = rng.normal(20.0, 5.0, (k, MEASURES)).astype(np.float32)
        x[rng.random((k, MEASURES)) < 0.2] = np.nan  # measures a detector lacks
        if step % 7 == 3:
            x[0] = 1e6  # an outlier the clipping must hold back
        yield slot, bin_, x


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), min_count=st.integers(1, 6), fallback=st.booleans())
def test_learn_distinct_and_assess_equal_the_row_by_row_path(seed, min_count, fallback):
    kw = dict(floor_abs=(2.0, 3.0, 40.0), min_count=min_count, fallback=fallback)
    batch, rows = (SeasonalBaseline(SLOTS, BINS, MEASURES, **kw) for _ in range(2))
    for slot, bin_, x in _steps(seed, 40):
        z, loc = batch.assess(slot, bin_, x)
        assert np.array_equal(z, rows.score(slot, bin_, x), equal_nan=True)
        assert np.array_equal(loc, rows.expected(slot, bin_)[0])
        batch.learn_distinct(slot, bin_, x)
        rows.learn(slot, bin_, x)
    for name in ("_loc", "_scale", "_count", "_gloc", "_gscale", "_gcount"):
        assert np.array_equal(getattr(batch, name), getattr(rows, name)), name


def test_learning_after_a_pickle_round_trip_writes_to_the_restored_arrays():
    base = SeasonalBaseline(SLOTS, BINS, MEASURES, floor_abs=(1.0, 1.0, 1.0), min_count=1)
    base = pickle.loads(pickle.dumps(base))
    slot, bin_ = np.array([4, 7]), np.array([2, 0])
    base.learn_distinct(slot, bin_, np.array([[5.0, 6.0, 7.0], [1.0, 2.0, 3.0]], np.float32))
    assert base._loc[4, 2].tolist() == [5.0, 6.0, 7.0]
    assert base._count[7, 0].tolist() == [1, 1, 1]
