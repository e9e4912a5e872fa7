"""Name keys for matching plays to a catalogue: the same song written the ways exports write it gets one key.

"Beyoncé feat. JAY-Z" and "Beyonce" share an artist key; "Here Comes the Sun - Remastered 2009" and
"Here Comes The Sun" share a loose title key. Two levels, so an exact spelling wins over a stripped one.
"""

from __future__ import annotations

import re
import unicodedata

# Credits of other artists: "feat. X", "ft. X", "featuring X", also inside () or []. Only the last credit word
# starts one, so the band Little Feat keeps its name in "Little Feat feat. X".
_CREDIT = r"\b(?:feat|ft|featuring)\b\.?\s"
_FEAT = re.compile(rf"\s*[(\[]?\s*{_CREDIT}(?!.*{_CREDIT}).*?(?:[)\]]|$)", re.IGNORECASE)
# Version notes after " - " or in brackets: "- Remastered 2011", "(2009 Remaster)", "- Radio Edit", "[Live]".
_VERSION_WORDS = (r"remaster(?:ed)?|version|edit|(?:re)?mix(?:ed)?|mono|stereo|live|deluxe|edition|bonus|demo"
                  r"|acoustic|single")
_VERSION = re.compile(rf"\s+-\s+[^-]*\b(?:{_VERSION_WORDS})\b.*$"  # "Title - 2011 Remaster"
                      rf"|\s*[(\[][^()\[\]]*\b(?:{_VERSION_WORDS})\b[^()\[\]]*[)\]]",  # "Title (Live)"
                      re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+")
_CREDIT_WORD = re.compile(r"\b(?:featuring|feat|ft)\b")
# Letters that Unicode does not decompose into a base letter and an accent (Turkish dotless i, Nordic o-slash).
_LETTERS = str.maketrans({"ı": "i", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe"})


def _fold(text: str) -> str:
    """Case-folded, accents removed, '&' read as 'and', punctuation as spaces.

    A name of symbols only ("#####", "†‡†") keeps its symbols, so such names do not all share the empty key.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().translate(_LETTERS)
    words = " ".join(_NOT_WORD.sub(" ", plain.replace("&", " and ")).split())
    return words or " ".join(plain.split())


def _uncredited(text: str) -> str:
    """Text without its featured-artist credits, the last first ("A feat. B feat. C" -> "A")."""
    while (shorter := _FEAT.sub("", text)) != text:
        text = shorter
    return text


def plain_key(name: str) -> str:
    """The whole name, credits included: tells catalogue items "Afrojack" and "Afrojack ft. Eva Simons" apart."""
    return _CREDIT_WORD.sub("feat", _fold(name))


def artist_key(name: str) -> str:
    """The main artist: credits dropped, a leading 'The' ignored ('The Beatles' = 'Beatles')."""
    key = _fold(_uncredited(name))
    key = key[4:] if key.startswith("the ") else key
    return key or _fold(name)


def title_key(title: str) -> str:
    """The title without featured-artist credits."""
    return _fold(_uncredited(title)) or _fold(title)


def loose_title_key(title: str) -> str:
    """The title also without version notes (remasters, edits, live): the fallback match."""
    stripped = _VERSION.sub("", _uncredited(title))
    return _fold(stripped) or title_key(title)
