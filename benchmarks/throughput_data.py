"""Deterministic load for the throughput benchmark: a synthetic city and its ATCS readings.

The city is the demo city's configuration (zones, routing, fusion rules) with its detectors
replaced by ``n`` synthetic ones in corridors of :data:`CORRIDOR` linked approaches spread over
the city's bounding box. Readings are production wire format (``kendali.codec`` JSON, keyed by
detector id as the simulator publishes them), one per detector per ``INTERVAL_S`` in rounds,
with noise, and a few planted incidents (occupancy up, speed down for :data:`INCIDENT_ROUNDS`
rounds at the head of a corridor) so the detectors have real work and incidents to emit.

>>> city = synthetic_city(base_city(), 20, seed=1)
>>> len(city.detectors), city.detectors["S00001"].upstream
(20, 'S00000')
>>> msgs = list(readings(city, rounds=3, seed=1))
>>> len(msgs), msgs[0][0]
(60, b'S00000')
>>> sorted(orjson.loads(msgs[0][1]))[:3]
['approach', 'detector_id', 'intersection']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from kendali.city import City, Detector, load_city
from kendali.settings import Settings

__all__ = [
    "CORRIDOR",
    "INTERVAL_S",
    "START",
    "base_city",
    "incident_plan",
    "readings",
    "round_ts",
    "synthetic_city",
]

CORRIDOR = 5
INTERVAL_S = 60
INCIDENT_ROUNDS = 6
#: First reading of every data set: a Monday 06:00 in the demo city (WITA), in the past.
START = datetime(2026, 11, 2, 6, 0, tzinfo=ZoneInfo("Asia/Makassar"))


def base_city() -> City:
    """The demo city whose zones, routing and fusion rules the synthetic city borrows."""
    return load_city(Settings().city)


def synthetic_city(base: City, n: int, seed: int = 7) -> City:
    """``base`` with ``n`` synthetic detectors (ids ``S00000``...) in linked corridors."""
    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = base.bbox
    heads = rng.uniform((lon0, lat0), (lon1, lat1), size=((n + CORRIDOR - 1) // CORRIDOR, 2))
    detectors = {}
    for i in range(n):
        corridor, pos = divmod(i, CORRIDOR)
        lon, lat = heads[corridor] + (0.0015 * pos, 0.0)
        last = pos == CORRIDOR - 1 or i == n - 1
        detectors[_id(i)] = Detector(
            _id(i),
            f"X{corridor:05d}",
            f"Synthetic {corridor}",
            "EB",
            f"Corridor {corridor}",
            round(float(lat), 6),
            round(float(lon), 6),
            50.0,
            1800.0,
            _id(i - 1) if pos else None,
            None if last else _id(i + 1),
        )
    return dataclasses.replace(base, name=f"{base.name} + {n} synthetic", detectors=detectors)


def _id(i: int) -> str:
    return f"S{i:05d}"


def round_ts(r: int) -> datetime:
    """Timestamp of reading round ``r``."""
    return START + timedelta(seconds=INTERVAL_S * r)


def incident_plan(n: int, rounds: int, every: int = 250) -> dict[int, int]:
    """Planted incidents: corridor head detector index -> first anomalous round.

    One corridor in ``every`` detectors, onsets spread over the rounds after a warm-up.

    >>> incident_plan(1000, 100)
    {0: 30, 250: 47, 500: 64, 750: 81}
    """
    first, span = 30, max(rounds - 30 - INCIDENT_ROUNDS - 4, 1)
    heads = range(0, n - CORRIDOR + 1, every) if n >= CORRIDOR else []
    return {h: first + (17 * k) % span for k, h in enumerate(heads)}


def readings(
    city: City,
    rounds: int,
    seed: int = 7,
    first_round: int = 0,
    every: int = 250,
    by_corridor: bool = False,
) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) messages for rounds ``first_round`` .. ``rounds - 1``, round after round,
    with the incidents of :func:`incident_plan` (one per ``every`` detectors) planted.

    Keys are detector ids (as the simulator publishes), or corridor ids with ``by_corridor``:
    then a corridor's readings share a partition and keep their order in any consumer."""
    ids = sorted(city.detectors)
    n = len(ids)
    rng = np.random.default_rng(seed)
    base_occ = rng.uniform(8.0, 30.0, n)
    base_speed = rng.uniform(30.0, 55.0, n)
    base_vol = rng.uniform(5.0, 25.0, n)  # vehicles per minute: 300-1500 veh/h
    plan = incident_plan(n, rounds, every)
    stable = [
        {"detector_id": d, "intersection": city.detectors[d].intersection, "approach": "EB"}
        for d in ids
    ]
    keys = [(city.detectors[d].intersection if by_corridor else d).encode() for d in ids]
    for r in range(rounds):
        noise = np.random.default_rng((seed, r)).normal(size=(3, n))
        if r < first_round:
            continue
        occ = np.round(np.clip(base_occ + 1.5 * noise[0], 0.5, 99.0), 1)
        speed = np.round(np.clip(base_speed + 2.5 * noise[1], 5.0, 110.0), 1)
        vol = np.round(np.clip(base_vol + 2.0 * noise[2], 1.0, 60.0))
        for head, onset in plan.items():
            if onset <= r < onset + INCIDENT_ROUNDS:
                occ[head], speed[head] = 85.0, 6.0
        ts = round_ts(r).isoformat()
        occ_l, speed_l, vol_l = occ.tolist(), speed.tolist(), vol.tolist()
        for i in range(n):
            value = {
                **stable[i],
                "ts": ts,
                "interval_s": INTERVAL_S,
                "volume": vol_l[i],
                "occupancy": occ_l[i],
                "speed": speed_l[i],
            }
            yield keys[i], orjson.dumps(value)
