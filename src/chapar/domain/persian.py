"""Text normalisation for search, the same on write and on query, so that what people type
finds what others wrote: Arabic and Persian forms of ی and ک are one letter, diacritics
(harakat), tatweel and zero-width joiners neither split nor break words, Persian, Arabic
and Latin digits are equal, Latin letters are case-folded."""

from __future__ import annotations

import re
import unicodedata

_MAP = str.maketrans(
    {
        "ي": "ی",  # Arabic yeh
        "ى": "ی",  # alef maksura
        "ئ": "ی",
        "ك": "ک",  # Arabic kaf
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        **{chr(0x06F0 + i): str(i) for i in range(10)},  # Persian digits
        **{chr(0x0660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
    }
)
# Harakat and other Arabic marks, superscript alef, tatweel, ZWNJ/ZWJ, direction marks, BOM.
_DROP = re.compile(
    "[\u064b-\u065f\u0670\u06d6-\u06ed\u0640\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    s = unicodedata.normalize("NFC", text)
    s = _DROP.sub("", s.translate(_MAP))
    return _SPACE.sub(" ", s.casefold()).strip()


_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The words of a normalised text, as the search index splits them."""
    return _WORD.findall(normalize(text))
