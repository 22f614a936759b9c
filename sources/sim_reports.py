"""Simulated citizen reports: a Poisson background across the city and bursts around incidents.

Background reports arrive hour by hour at a rate that follows the waking day, in a mix of
categories (mostly infrastructure, public order and congestion), some with jittered coordinates,
some with only a place name. An incident adds a burst: many reports within ``radius_m`` of the
event, arriving front-loaded over ``spread_min`` minutes, only some with a category. Reporter
ids are pseudonyms (``anon-<hex>``), never phone numbers.

>>> import math
>>> round(sum(_hour_factor(h) for h in range(24)) / 24, 2)
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from geo.distance import offset_deg
from kendali.city import City
from kendali.records import Complaint
from sources.sim_texts import BACKGROUND_MIX, report_text

__all__ = ["Burst", "ReportMaker"]

_CHANNELS = ("112", "app", "whatsapp", "social", "open311")
_CHANNEL_P = (0.3, 0.3, 0.25, 0.1, 0.05)
_HOURLY = [
    0.15,
    0.1,
    0.08,
    0.08,
    0.15,
    0.4,
    0.9,
    1.4,
    1.5,
    1.5,
    1.4,
    1.3,
    1.2,
    1.3,
    1.4,
    1.4,
    1.5,
    1.6,
    1.6,
    1.5,
    1.3,
    1.0,
    0.6,
    0.3,
]


def _hour_factor(hour: int) -> float:
    return _HOURLY[hour] * 24 / sum(_HOURLY)


@dataclass(frozen=True, slots=True)
class Burst:
    """Reports that one incident causes: where, when, how many, how spread out."""

    key: str
    category: str
    start: datetime
    lon: float
    lat: float
    place: str
    count: int
    radius_m: float
    spread_min: float
    category_share: float = 0.4


class ReportMaker:
    """Builds :class:`Complaint` records for a city; every draw comes from a seeded generator."""

    def __init__(
        self,
        city: City,
        seed: int,
        *,
        rate_per_hour: float,
        coordinates_share: float,
        english_share: float,
    ) -> None:
        self.city, self.seed, self.rate = city, seed, rate_per_hour
        self.coordinates_share, self.english_share = coordinates_share, english_share
        self.places = sorted(city.places)
        self.place_names = {n: n.title() for n in self.places}
        self._cats = list(BACKGROUND_MIX)
        weights = np.array([BACKGROUND_MIX[c] for c in self._cats])
        self._cat_p = weights / weights.sum()

    def _reporter(self, rng: np.random.Generator) -> str:
        return f"anon-{int(rng.integers(2**48)):012x}"

    def _one(
        self, rng, rid: str, ts: datetime, category: str, point, place: str, *, labelled: bool
    ) -> Complaint:
        english = rng.random() < self.english_share
        with_coords = rng.random() < self.coordinates_share or not place
        text = report_text(rng, category, place if rng.random() < 0.8 else None, english=english)
        lon, lat = point if with_coords else (None, None)
        return Complaint(
            id=rid,
            channel=str(rng.choice(_CHANNELS, p=_CHANNEL_P)),
            ts=ts,
            text=text,
            category=category if labelled else None,
            lat=None if lat is None else round(lat, 6),
            lon=None if lon is None else round(lon, 6),
            place=None if with_coords else place,
            reporter=self._reporter(rng),
        )

    def background(self, hour_index: int) -> list[Complaint]:
        """Background reports of one absolute hour (``unix time // 3600``), in time order."""
        rng = np.random.default_rng([self.seed, 31, hour_index])
        hour0 = datetime.fromtimestamp(hour_index * 3600, tz=self.city.tz)
        rate = self.rate * _hour_factor(hour0.hour)
        offsets = np.sort(rng.uniform(0, 3600, rng.poisson(rate)))
        out = []
        for n, offset in enumerate(offsets.tolist()):
            category = str(rng.choice(self._cats, p=self._cat_p))
            name = self.places[int(rng.integers(len(self.places)))]
            lon, lat = self.city.places[name]
            point = _jitter(rng, lon, lat, rng.uniform(50, 900))
            ts = hour0 + timedelta(seconds=round(offset))
            rid = f"sim{self.seed}-bg-{hour_index}-{n}"
            out.append(
                self._one(
                    rng,
                    rid,
                    ts,
                    category,
                    point,
                    self.place_names[name],
                    labelled=rng.random() < 0.5,
                )
            )
        return out

    def burst(self, b: Burst) -> list[Complaint]:
        """The reports of one incident, front-loaded in time, scattered in a disc."""
        rng = np.random.default_rng([self.seed, 32, *b.key.encode()])
        delays = np.sort(rng.beta(1.2, 2.8, b.count)) * b.spread_min * 60 + 45
        out = []
        for n, delay in enumerate(delays.tolist()):
            point = _jitter(rng, b.lon, b.lat, b.radius_m * math.sqrt(rng.random()))
            ts = b.start + timedelta(seconds=round(delay))
            out.append(
                self._one(
                    rng,
                    f"sim{self.seed}-{b.key}-{n}",
                    ts,
                    b.category,
                    point,
                    b.place,
                    labelled=rng.random() < b.category_share,
                )
            )
        return out

    def nearest_place(self, lon: float, lat: float) -> str:
        """Display name of the known place closest to a point (what a caller would say)."""
        name = min(self.places, key=lambda n: _sq(self.city.places[n], (lon, lat)))
        return self.place_names[name]


def _sq(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2


def _jitter(rng: np.random.Generator, lon: float, lat: float, metres: float):
    """A point ``metres`` away from (lon, lat) in a random direction."""
    dlon, dlat = offset_deg(lat, metres)
    angle = rng.uniform(0, 2 * math.pi)
    return lon + dlon * math.cos(angle), lat + dlat * math.sin(angle)
