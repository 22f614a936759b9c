"""StreamScorer and SeasonalBaseline: online, bounded, deterministic, one alert per event."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np

from detectors.baseline import SeasonalBaseline
from detectors.traffic_stream import StreamScorer

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stream(values, scorer=None):
    scorer = scorer or StreamScorer()
    return [scorer.score_one(T0 + timedelta(minutes=5 * i), float(v)) for i, v in enumerate(values)]


def daily(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    return 50 + 20 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 1, n)


def test_scores_are_in_range_and_deterministic():
    values = daily(1500)
    a, b = stream(values), stream(values)
    assert a == b and all(0.0 <= s <= 1.0 for s in a)


def test_level_shift_is_flagged_once_then_suppressed():
    values = daily(2000)
    values[1600:] += 40
    scores = np.array(stream(values))
    calm = scores[600:1600].max()
    assert scores[1600:1610].max() > 3 * max(calm, 1e-3)
    assert (scores[1610:1800] > calm).sum() <= 2


def test_regular_spikes_become_old_news():
    values = np.zeros(3000)
    values[::100] = 20.0
    scores = np.array(stream(values))
    assert scores[2000:].max() < scores[:700].max() / 5


def test_scorer_pickles_mid_stream():
    values = daily(900)
    s = StreamScorer()
    stream(values[:500], s)
    clone = pickle.loads(pickle.dumps(s))
    assert stream(values[500:], s) == stream(values[500:], clone)


def test_baseline_scores_before_learning_and_resists_outliers():
    b = SeasonalBaseline(slots=2, bins=1, measures=1, floor_abs=(0.5,), min_count=3)
    one, zero = np.array([1]), np.array([0])
    for x in (10.0, 11.0, 9.0, 10.0, 11.0, 9.0, 10.0):
        b.update(one, zero, np.array([[x]]))
    before = b.expected(one, zero)[0][0, 0]
    assert b.update(one, zero, np.array([[1000.0]]))[0, 0] > 50
    assert abs(b.expected(one, zero)[0][0, 0] - before) < 1.0
    assert b.score(np.array([0]), zero, np.array([[5.0]]))[0, 0] == 0.0  # slot 0 never fed
