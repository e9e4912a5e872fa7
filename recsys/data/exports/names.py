"""Name keys for matching plays to a catalogue: the same song written the ways exports write it gets one key.

"Beyoncé feat. JAY-Z" and "Beyonce" share an artist key; "Here Comes the Sun - Remastered 2009" and
"Here Comes The Sun" share a loose title key. Two levels, so an exact spelling wins over a stripped one.
"""

from __future__ import annotations

import re
import unicodedata

# Credits of other artists: "feat. X", "ft. X", "featuring X", also inside () or [].
_FEAT = re.compile(r"\s*[(\[]?\s*\b(?:feat|ft|featuring)\b\.?\s.*?(?:[)\]]|$)", re.IGNORECASE)
# Version notes after " - " or in brackets: "- Remastered 2011", "(2009 Remaster)", "- Radio Edit", "[Live]".
_VERSION_WORDS = (r"remaster(?:ed)?|version|edit|(?:re)?mix(?:ed)?|mono|stereo|live|deluxe|edition|bonus|demo"
                  r"|acoustic|single")
_VERSION = re.compile(rf"\s+-\s+[^-]*\b(?:{_VERSION_WORDS})\b.*$"  # "Title - 2011 Remaster"
                      rf"|\s*[(\[][^()\[\]]*\b(?:{_VERSION_WORDS})\b[^()\[\]]*[)\]]",  # "Title (Live)"
                      re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+")


def _fold(text: str) -> str:
    """Case-folded, accents removed, '&' read as 'and', punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = plain.replace("&", " and ")
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def artist_key(name: str) -> str:
    """The main artist: credits dropped, a leading 'The' ignored ('The Beatles' = 'Beatles')."""
    key = _fold(_FEAT.sub("", name))
    key = key[4:] if key.startswith("the ") else key
    return key or _fold(name)


def title_key(title: str) -> str:
    """The title without featured-artist credits."""
    return _fold(_FEAT.sub("", title)) or _fold(title)


def loose_title_key(title: str) -> str:
    """The title also without version notes (remasters, edits, live): the fallback match."""
    stripped = _VERSION.sub("", _FEAT.sub("", title))
    return _fold(stripped) or title_key(title)
