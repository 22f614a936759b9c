"""The taxonomy and the Indonesian/English keyword classifier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detectors.categories import (
    CATEGORIES,
    GROUPS,
    category_group,
    classify,
    classify_text,
    normalise_category,
)
from kendali.city import load_city
from kendali.records import Complaint
from kendali.settings import Settings

T = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Ada kebakaran rumah di gang 3, apinya besar", "fire"),
        ("kbakaran!! asap item tebel bgt", "fire"),
        ("House on fire near the market", "fire"),
        ("BANJIIIR sepinggang, mohon bantuan", "flood"),
        ("bnjr lg di perumahan, air masuk rumah", "flood"),
        ("Banjir 30cm, lalin macet total", "flood"),
        ("rob naik lagi di pesisir", "flood"),
        ("laka lantas motor vs mobil", "traffic_accident"),
        ("ketabrak mobil, korbannya luka", "traffic_accident"),
        ("Macet parah dr pagi, padat merayap", "congestion"),
        ("traffic jam on the bypass", "congestion"),
        ("pohon tumbang nutup jalan", "fallen_tree"),
        ("tanah longsor di lereng bukit", "landslide"),
        ("motor saya dicuri di parkiran", "crime"),
        ("there was a robbery at the ATM", "crime"),
        ("PKL jualan di trotoar, parkir liar jg", "public_order"),
        ("ada yg pingsan di halte, butuh ambulans", "health_emergency"),
        ("tetangga kdrt tiap malam", "family_help"),
        ("PJU mati sepanjang jalan", "infrastructure"),
        ("jalan berlubang besar bahaya", "infrastructure"),
        ("Terima kasih pak", "other"),
    ],
)
def test_classify_text(text, category):
    assert classify_text(text) == category


def test_rob_is_a_whole_word_only():
    assert classify_text("robbery at night") == "crime"


def test_own_category_wins_when_known():
    c = Complaint("1", "open311", T, "banjir", category="Kebakaran")
    assert classify(c) == "fire"
    assert classify(Complaint("2", "app", T, "banjir", category="misc")) == "flood"


def test_every_category_has_a_group_and_routing():
    city = load_city(Settings().city)
    assert set(CATEGORIES.values()) == set(GROUPS)
    for category in CATEGORIES:
        assert category in city.routing, f"{category} has no routing in the demo city"
        assert normalise_category(category) == category
    assert category_group("weather_warning") == "other"


@pytest.mark.parametrize(
    ("own", "category"),
    [
        ("Street Light Condition", "infrastructure"),
        ("Noise - Residential", "public_order"),
        ("Fire hydrant leaking", "infrastructure"),
        ("Damaged Tree", "fallen_tree"),
        ("Drug Activity", "crime"),
    ],
)
def test_other_systems_category_names_are_read_by_their_words(own, category):
    assert classify(Complaint("1", "311", T, "", category=own)) == category


def test_unreadable_own_category_falls_back_to_the_text():
    assert classify(Complaint("1", "311", T, "pohon tumbang", category="Rodent")) == "fallen_tree"
