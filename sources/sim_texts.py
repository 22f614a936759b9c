"""Citizen report texts, Indonesian and English, written the way people type into a phone.

Each category has a few templates; ``{p}`` becomes a place name or a vague "sini" when the
reporter gives none. :func:`informal` then applies the usual chat abbreviations at random.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> report_text(rng, "fire", "Pasar Pandansari", english=False)
'asap hitam tebal dari arah pasar pandansari'
>>> informal(np.random.default_rng(0), "tolong yang ada di sini tidak bisa lewat")
'tolong yg ada disini gak bisa lewat'
"""

from __future__ import annotations

import numpy as np

__all__ = ["BACKGROUND_MIX", "TEMPLATES", "informal", "report_text"]

#: category -> (Indonesian templates, English templates)
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fire": (
        (
            "ada kebakaran di dekat {p}",
            "tolong ada kebakaran di {p}, apinya besar",
            "asap hitam tebal dari arah {p}",
            "kebakaran rumah warga dekat {p} cepat kirim damkar",
            "api besar di {p}!!! tolong",
            "ada yang terbakar di {p} asap kemana mana",
        ),
        (
            "fire near {p}, big flames",
            "there is a fire at {p} please send help",
            "thick black smoke coming from {p}",
            "house on fire close to {p}",
        ),
    ),
    "traffic_accident": (
        (
            "tolong ada kecelakaan motor di {p}",
            "tabrakan mobil sama motor di {p}",
            "kecelakaan di {p} ada korban",
            "laka lantas di {p}, jalan ketutup",
            "ada truk terguling di {p}",
        ),
        (
            "accident at {p}, motorbike and car",
            "crash near {p}, someone is injured",
            "traffic accident {p} road blocked",
        ),
    ),
    "flood": (
        (
            "banjir sepaha di {p}",
            "air naik di {p} sudah masuk rumah",
            "banjir lagi di {p}",
            "jalan di {p} tergenang air selutut motor mogok",
            "got meluap di {p} banjir",
        ),
        (
            "flooding at {p}, water knee deep",
            "road flooded near {p}",
            "water entering houses at {p}",
        ),
    ),
    "congestion": (
        (
            "macet parah di {p}",
            "macet total dari tadi di {p}",
            "{p} macet gak gerak",
            "lampu merah di {p} lama banget macet",
        ),
        ("heavy traffic jam at {p}", "traffic not moving near {p}"),
    ),
    "infrastructure": (
        (
            "lampu jalan mati di {p}",
            "jalan berlubang di {p} bahaya buat motor",
            "drainase tersumbat di {p}",
            "lampu lalu lintas di {p} mati",
            "trotoar rusak di {p}",
            "kabel listrik menjuntai di {p}",
        ),
        (
            "street light out at {p}",
            "big pothole on the road at {p}",
            "traffic light not working at {p}",
            "blocked drain near {p}",
        ),
    ),
    "public_order": (
        (
            "parkir liar di {p} bikin macet",
            "pedagang kaki lima tutup trotoar di {p}",
            "ada yang bakar sampah di {p}",
            "anak muda balapan liar di {p} tiap malam",
            "suara musik keras sampai malam di {p}",
        ),
        (
            "illegal parking blocking the road at {p}",
            "street vendors on the sidewalk at {p}",
            "noise complaint near {p}",
        ),
    ),
    "fallen_tree": (
        ("pohon tumbang di {p}", "pohon tumbang menutup jalan di {p}", "dahan besar patah di {p}"),
        ("fallen tree blocking the road at {p}", "tree down near {p}"),
    ),
    "landslide": (
        ("longsor di {p}", "tanah longsor dekat {p} rumah warga terancam"),
        ("landslide near {p}",),
    ),
    "crime": (
        ("ada jambret di {p}", "motor dicuri di parkiran {p}", "ada perkelahian di {p}"),
        ("bag snatching at {p}", "my motorbike was stolen at {p}", "fight near {p}"),
    ),
    "health_emergency": (
        ("ada orang pingsan di {p} butuh ambulans", "tolong ada yang sesak napas di {p}"),
        ("someone collapsed at {p}, need an ambulance",),
    ),
    "family_help": (
        ("ada anak terlantar di {p}", "tetangga di {p} sering bertengkar dan anaknya menangis"),
        ("child alone and crying at {p}",),
    ),
    "other": (
        (
            "anjing liar banyak di {p}",
            "sampah menumpuk di {p} belum diangkut",
            "mau tanya info di {p}",
        ),
        ("garbage not collected at {p}", "stray dogs around {p}"),
    ),
}

#: Background mix of categories (weights; normalised when drawn). Emergencies (fire, crash,
#: health) are left out on purpose: each one is an incident, so the scenario injects them and
#: the truth file lists them; the background is the city's everyday nuisance.
BACKGROUND_MIX = {
    "infrastructure": 0.32,
    "public_order": 0.22,
    "congestion": 0.18,
    "other": 0.09,
    "fallen_tree": 0.05,
    "crime": 0.06,
    "family_help": 0.03,
    "flood": 0.05,
}

_SHORT = (
    ("tolong", "tlg"),
    ("yang", "yg"),
    ("tidak", "gak"),
    ("sudah", "udh"),
    ("banget", "bgt"),
    ("dekat", "dkt"),
    ("di sini", "disini"),
)


def informal(rng: np.random.Generator, text: str) -> str:
    """Chat-style spelling: each abbreviation applies with probability one half."""
    for word, short in _SHORT:
        if word in text and rng.random() < 0.5:
            text = text.replace(word, short)
    return text


def report_text(rng: np.random.Generator, category: str, place: str | None, *, english: bool):
    """A report's free text for a category, naming the place or leaving it vague."""
    indonesian, other = TEMPLATES.get(category, TEMPLATES["other"])
    options = other if english else indonesian
    text = options[int(rng.integers(len(options)))]
    where = place or ("here" if english else "sini")
    text = text.replace("{p}", where)
    if english:
        return text
    text = informal(rng, text)
    ending = rng.random()
    if ending < 0.15:
        text += " pak"
    elif ending < 0.25:
        text += "!!"
    return text.lower() if rng.random() < 0.6 else text
