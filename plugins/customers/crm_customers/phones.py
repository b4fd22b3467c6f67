"""Phone numbers in every written form map to one stored shape (CUS-8).

+86 10 6212 3456, (010) 62123456, 010-6212-3456 and 01062123456 are one number. We store its
E.164 form for exact lookups and its digits reversed, so "ends with 62123456" (a caller shown
without an area code) is an indexed prefix search rather than a scan.
"""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "CN"


def normalise(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """E.164 (``+861062123456``), or None when it is not a plausible phone number."""
    parsed = parse(raw, region)
    return parsed[0] if parsed else None


def parse(raw: str | None, region: str = DEFAULT_REGION) -> tuple[str, str] | None:
    """``(E.164, national digits)`` from one parse (the import needs both for 100,000 rows,
    and parsing is most of its cost), or None when it is not a plausible phone number."""
    if not raw:
        return None
    text = raw.strip()
    if not re.search(r"\d{3}", text):
        return None
    try:
        num = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        num = None
    if num is None or not phonenumbers.is_possible_number(num):
        digits = re.sub(r"\D", "", text)
        if not 6 <= len(digits) <= 15:
            return None
        return f"+{digits}", national_digits(f"+{digits}")  # the rare path: as stored elsewhere
    return (
        phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164),
        str(num.national_number),
    )


def national_digits(e164: str) -> str:
    try:
        num = phonenumbers.parse(e164)
        return str(num.national_number)
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")


def reversed_digits(e164: str) -> str:
    return national_digits(e164)[::-1]


def display(e164: str | None) -> str:
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164
