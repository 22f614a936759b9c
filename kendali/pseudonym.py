"""Reporter pseudonyms: a keyed hash (HMAC-SHA256) of a normalised identity, never the identity.

The same caller gets the same pseudonym on every channel, whether the number was written
``+62 812-3456-7890``, ``0812 3456 7890`` or ``62812...``, so repeat reports can be recognised
without anyone downstream (Kafka, Redis, logs, the API) ever seeing the number. Without the key
the pseudonym cannot be reversed by trying all phone numbers; set ``Settings.pseudonym_key``.

>>> a = pseudonymise("+62 812-3456-7890", "k")
>>> a == pseudonymise("0812 3456 7890", "k") == pseudonymise("6281234567890", "k")
True
>>> a.startswith("rp_"), len(a), a == pseudonymise("0812 3456 7890", "other key")
(True, 35, False)
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["normalise_identity", "normalise_phone", "pseudonymise", "redact_contacts"]

_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]{6,24}$")
#: Phone numbers and e-mail addresses inside free text (a caller dictating "hubungi 0812...").
_CONTACT_IN_TEXT = re.compile(
    r"(?<![\w+])(?:\+?\d[\d\s.\-/()]{7,18}\d)(?!\w)|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
)


def normalise_phone(value: str, country_code: str = "62") -> str | None:
    """Digits of a phone number in international form without ``+``, or ``None`` if not one.

    >>> normalise_phone("+62 812-3456-7890"), normalise_phone("0812.3456.7890")
    ('6281234567890', '6281234567890')
    >>> normalise_phone("812 3456 7890"), normalise_phone("0062 812 3456 7890")
    ('6281234567890', '6281234567890')
    >>> normalise_phone("budi@example.org") is None
    True
    """
    text = value.strip()
    if not _PHONE_CHARS.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith(country_code) and len(digits) >= 10:
        return digits
    if digits.startswith("0"):
        return country_code + digits[1:]
    return country_code + digits


def redact_contacts(text: str) -> str:
    """Free text with phone numbers and e-mail addresses masked, so they never leave intake.

    >>> redact_contacts("kebakaran di Jl. Sudirman No. 12, hubungi 0812-3456-7890 / a.b@mail.id")
    'kebakaran di Jl. Sudirman No. 12, hubungi [kontak] / [kontak]'
    >>> redact_contacts("banjir 30 cm sejak 07.30, RT 05")
    'banjir 30 cm sejak 07.30, RT 05'
    """
    return _CONTACT_IN_TEXT.sub("[kontak]", text)


def normalise_identity(value: str, country_code: str = "62") -> str:
    """One canonical form per reporter: a phone number's digits, else the trimmed lower-case id.

    >>> normalise_identity("  Budi.Santoso@Example.org "), normalise_identity("0812-111-222")
    ('budi.santoso@example.org', 'tel:62812111222')
    """
    phone = normalise_phone(value, country_code)
    return f"tel:{phone}" if phone else value.strip().lower()


def pseudonymise(identity: str, key: str | bytes, country_code: str = "62") -> str:
    """``rp_`` + the first 128 bits of HMAC-SHA256(key, normalised identity), in hex."""
    if not key:
        raise ValueError("pseudonymise needs a non-empty key (Settings.pseudonym_key)")
    secret = key.encode() if isinstance(key, str) else key
    message = normalise_identity(identity, country_code).encode()
    return "rp_" + hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]
