"""Report categories: the taxonomy, its groups, and a keyword classifier for Indonesian and English.

A report keeps its own category when the intake gave a known one (or a known alias such as
``"kebakaran"``); otherwise its free text decides, with keywords in both languages, informal
spellings (``bnjr``, ``mcet``) and abbreviations (``laka``, ``kdrt``, ``pju``). Letters repeated
for emphasis (``banjiiir``) are collapsed before matching. Groups are what the clusterer keys on:
reports of one group cluster together even when callers name the event differently.

>>> classify_text("Banjiiir setinggi lutut di Jl. Sudirman #banjir")
'flood'
>>> classify_text("ada laka motor vs truk, korban luka")
'traffic_accident'
>>> category_group("traffic_accident"), category_group("no-such-thing")
('traffic', 'other')
"""

from __future__ import annotations

import re
from functools import lru_cache

from kendali.records import Complaint

__all__ = [
    "CATEGORIES",
    "GROUPS",
    "category_group",
    "classify",
    "classify_text",
    "normalise_category",
    "report_key",
]

#: category -> group, in priority order (earlier wins a tie in the text classifier).
CATEGORIES: dict[str, str] = {
    "fire": "fire",
    "health_emergency": "help",
    "traffic_accident": "traffic",
    "landslide": "flood",
    "flood": "flood",
    "crime": "safety",
    "family_help": "help",
    "fallen_tree": "infrastructure",
    "congestion": "traffic",
    "public_order": "safety",
    "infrastructure": "infrastructure",
    "other": "other",
}

GROUPS: tuple[str, ...] = tuple(dict.fromkeys(CATEGORIES.values()))

#: Keywords per category, "|"-separated: "word" scores 1, "word:2" scores 2 (a decisive word:
#: see :func:`classify_text`), other weights as written. A keyword matches
#: at the start of a word, so "banjir" also matches "banjirnya" and "macet" matches "macet2";
#: "word=" matches the whole word only ("rob", tidal flood, must not match "robbery").
_KEYWORDS: dict[str, str] = {
    "fire": (
        "kebakaran:2 | kbakaran:2 | kebakar:2 | terbakar:2 | kbkrn:2 | damkar:2 | api= | asap | "
        "hangus | fire=:1.5 | house fire:2 | blaze:2 | burning:2 | on fire:2 | smoke"
    ),
    "health_emergency": (
        "pingsan:2 | sesak napas:2 | sesak nafas:2 | serangan jantung:2 | ambulans:2 | "
        "ambulan:2 | kejang:2 | overdosis:2 | berdarah | luka parah | tidak sadar:2 | "
        "gawat darurat:2 | heart attack:2 | unconscious:2 | ambulance:2 | bleeding | "
        "medical emergency:2 | not breathing:2 | overdose:2 | injured"
    ),
    "traffic_accident": (
        "kecelakaan:2 | kclkaan:2 | kcelakaan:2 | laka:2 | lakalantas:2 | tabrakan:2 | "
        "tabrak:2 | ketabrak:2 | nabrak:2 | ditabrak:2 | terguling | terbalik | tertabrak:2 | "
        "senggolan | crash:2 | accident:2 | collision:2 | hit and run:2 | overturned"
    ),
    "landslide": ("longsor:2 | tanah longsor:2 | landslide:2 | mudslide:2 | amblas"),
    "flood": (
        "banjir:2 | bnjr:2 | bnjir:2 | banjr:2 | genangan:2 | tergenang:2 | genang | rob=:2 | "
        "air naik | air pasang | luapan | meluap | kebanjiran:2 | flood:2 | flooded:2 | "
        "flooding:2 | inundat:2 | waterlog | setinggi lutut | sepinggang | bajir:2 | "
        "terendam:2 | rendam | menggenang:2 | air sudah naik:2 | air masuk | air sudah masuk | "
        "air melimpah | surut | laut pasang | lautpasang:2 | pompa air"
    ),
    "crime": (
        "pencurian:2 | maling:2 | curi=:2 | dicuri:2 | copet:2 | jambret:2 | begal:2 | "
        "rampok:2 | perampokan:2 | pembunuhan:2 | curanmor:2 | penipuan:2 | narkoba:2 | "
        "penjambretan:2 | theft:2 | robbery:2 | stolen:2 | assault:2 | burglary:2 | mugging:2 | "
        "pickpocket:2 | drug activity:2 | shooting:2"
    ),
    "family_help": (
        "kdrt:2 | kekerasan dalam rumah tangga:2 | kekerasan anak:2 | kekerasan pada anak:2 | "
        "pelecehan:2 | bullying:2 | perundungan:2 | depresi:2 | bunuh diri:2 | anak hilang:2 | "
        "puspaga:2 | konseling:2 | domestic violence:2 | suicid:2 | child abuse:2 | "
        "harassment:2 | missing child:2"
    ),
    "fallen_tree": (
        "pohon tumbang:2 | pohon roboh:2 | pohon rubuh:2 | pohon patah:2 | dahan patah:2 | "
        "ranting patah | fallen tree:2 | tree down:2 | tree fell:2 | pohon | tree= | trees= | "
        "damaged tree:2 | dead tree:2 | tree limb:2"
    ),
    "congestion": (
        "macet:2 | mcet:2 | macat | kemacetan:2 | padat merayap:2 | antrian panjang | "
        "antrean panjang | lalin | lalu lintas | traffic jam:2 | congest:2 | gridlock:2 | "
        "stuck in traffic:2 | tersendat"
    ),
    "public_order": (
        "pkl:2 | pedagang kaki lima:2 | parkir liar:2 | jukir:2 | tawuran:2 | keributan:2 | "
        "ribut | berisik | pengamen | gepeng | mabuk | miras | balap liar:2 | premanisme:2 | "
        "preman | illegal parking:2 | vandal:2 | noise:2 | street vendor:2 | brawl:2 | "
        "graffiti:2 | blocked driveway:2 | derelict:2 | abandoned vehicle:2 | loud music:2 | "
        "illegal dumping:2 | homeless"
    ),
    "infrastructure": (
        "lampu jalan:2 | pju:2 | lampu mati | jalan rusak:2 | jalan berlubang:2 | lubang | "
        "aspal | drainase | got mampet:2 | gotmampet:2 | selokan | gorong | saluran air | "
        "trotoar | sampah | jembatan rusak:2 | pothole:2 | street light:2 | streetlight:2 | "
        "broken road:2 | road damage:2 | blocked drain:2 | sidewalk | garbage | hydrant:2 | "
        "sewer:2 | water main:2 | water leak | catch basin:2 | traffic signal:2 | "
        "street condition:2 | sidewalk condition:2 | road condition"
    ),
}

#: Names a caller or app may give instead of our category code.
_ALIASES: dict[str, str] = {
    "banjir": "flood",
    "kebakaran": "fire",
    "kecelakaan": "traffic_accident",
    "laka": "traffic_accident",
    "accident": "traffic_accident",
    "traffic_incident": "congestion",
    "kemacetan": "congestion",
    "macet": "congestion",
    "pohon_tumbang": "fallen_tree",
    "longsor": "landslide",
    "kriminal": "crime",
    "kejahatan": "crime",
    "ketertiban": "public_order",
    "trantib": "public_order",
    "kesehatan": "health_emergency",
    "medical": "health_emergency",
    "kdrt": "family_help",
    "psikologi": "family_help",
    "infrastruktur": "infrastructure",
    "lainnya": "other",
}


def _normalise(text: str) -> str:
    """Lower case, letters repeated for emphasis collapsed, punctuation to spaces."""
    text = re.sub(r"(.)\1+", r"\1", text.lower())
    return re.sub(r"[^\w]+|_", " ", text)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, re.Pattern, float], ...]:
    out = []
    for category, words in _KEYWORDS.items():
        for word in words.split("|"):
            term, _, weight = word.strip().partition(":")
            end = r"(?!\w)" if term.endswith("=") else ""
            regex = re.compile(r"(?<!\w)" + re.escape(_normalise(term.rstrip("=")).strip()) + end)
            out.append((category, regex, float(weight or 1)))
    return tuple(out)


def classify_text(text: str) -> str:
    """Most likely category of a free-text report; ``"other"`` when no keyword matches.

    A decisive keyword of a graver category wins over nuisance words ("banjir, lalin macet" is a
    flood), otherwise the highest keyword score does.

    >>> classify_text("Pohon tumbang menutup jalan"), classify_text("halo")
    ('fallen_tree', 'other')
    """
    norm = " " + _normalise(text or "") + " "
    scores = dict.fromkeys(CATEGORIES, 0.0)
    for category, regex, weight in _patterns():
        if regex.search(norm):
            scores[category] += weight
    decisive = [c for c, s in scores.items() if s >= 2]
    if decisive:
        return decisive[0]
    best = max(scores.values())
    return next(c for c, s in scores.items() if s == best) if best > 0 else "other"


def normalise_category(value: str | None) -> str | None:
    """A known category code for an intake-supplied value, or ``None`` when it is not one.

    >>> normalise_category("Kebakaran"), normalise_category("traffic accident")
    ('fire', 'traffic_accident')
    >>> normalise_category("misc") is None
    True
    """
    if not value:
        return None
    key = re.sub(r"[\s\-/]+", "_", value.strip().lower())
    if key in CATEGORIES:
        return key
    return _ALIASES.get(key)


def classify(complaint: Complaint) -> str:
    """The report's own category when known (or an alias); else what its category's words say
    (another system's "Street Light Condition"); else its text's category.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> classify(Complaint("1", "311", t, "", category="Noise - Residential"))
    'public_order'
    """
    own = normalise_category(complaint.category)
    if own is not None:
        return own
    named = classify_text(complaint.category or "")
    return named if named != "other" else classify_text(complaint.text)


def category_group(category: str) -> str:
    """Clustering group of a category; unknown categories fall into ``"other"``."""
    return CATEGORIES.get(category, "other")


def report_key(complaint: Complaint) -> str:
    """The dataflow's routing key for a report: its category group.

    >>> from datetime import datetime, timezone
    >>> report_key(Complaint("r1", "112", datetime(2026, 1, 1, tzinfo=timezone.utc), "kbakaran"))
    'fire'
    """
    return category_group(classify(complaint))
