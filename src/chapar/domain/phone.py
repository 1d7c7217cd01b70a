"""Phone numbers: validated and normalised to E.164 with the phonenumbers library."""

from __future__ import annotations

import re

import phonenumbers

from chapar.errors import BadRequest

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits are typed on Persian keyboards.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_SEPARATORS = re.compile(r"[\s\-().\u200c\u200e\u200f]")


def clean(raw: str) -> str:
    s = _SEPARATORS.sub("", raw.translate(_DIGITS))
    if s.startswith("00"):
        s = "+" + s[2:]
    return s


def is_test_number(e164: str, prefix: str) -> bool:
    """Reserved test numbers: the prefix followed by 4 to 7 digits (Telegram-style)."""
    return (
        e164.startswith(prefix)
        and e164[len(prefix) :].isdigit()
        and 4 <= len(e164) - len(prefix) <= 7
    )


def normalize(raw: str, default_region: str, test_prefix: str | None = None) -> str:
    """Return the number in E.164, or raise BadRequest PHONE_NUMBER_INVALID."""
    s = clean(raw)
    if test_prefix and is_test_number(s, test_prefix):
        return s
    try:
        num = phonenumbers.parse(s, default_region)
    except phonenumbers.NumberParseException as e:
        raise BadRequest("PHONE_NUMBER_INVALID", f"not a phone number: {e}") from e
    if not phonenumbers.is_valid_number(num):
        raise BadRequest("PHONE_NUMBER_INVALID", "the phone number is not valid")
    return str(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))
