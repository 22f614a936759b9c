"""Pseudonyms are stable across spellings of one number, differ across people and keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kendali.pseudonym import normalise_phone, pseudonymise
from kendali.settings import Settings

KEY = Settings().pseudonym_key


@pytest.mark.parametrize(
    "spelling",
    ["+62 812-3456-7890", "+62 (812) 3456 7890", "0812 3456 7890", "081234567890",
     "6281234567890", "0062-812-3456-7890", "812.3456.7890"],
)  # fmt: skip
def test_spellings_of_one_number_share_a_pseudonym(spelling):
    assert pseudonymise(spelling, KEY) == pseudonymise("081234567890", KEY)


def test_pseudonym_hides_the_number_and_depends_on_the_key():
    p = pseudonymise("081234567890", KEY)
    assert "81234567890" not in p and p != pseudonymise("081234567890", KEY + "x")
    assert p != pseudonymise("081234567891", KEY)


def test_accounts_are_case_and_space_insensitive():
    assert pseudonymise(" Budi@Example.org", KEY) == pseudonymise("budi@example.org ", KEY)


def test_empty_key_is_refused():
    with pytest.raises(ValueError, match="non-empty key"):
        pseudonymise("081234567890", "")


def test_other_country_codes():
    assert normalise_phone("0412 345 678", country_code="61") == "61412345678"


@given(st.from_regex(r"8[1-9][0-9]{7,10}", fullmatch=True))
def test_local_and_international_forms_agree(digits):
    assert normalise_phone("0" + digits) == normalise_phone("+62 " + digits) == "62" + digits
