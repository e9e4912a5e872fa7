"""Plain-text labels for IDs and names from the data, which may hold any characters: control and bidirectional
marks are shown as escapes (so "\\u202e" cannot flip a label) and very long text is cut, for widgets and messages."""

from __future__ import annotations

from dashboard.components.text import shorten


def visible(value: object, limit: int = 80) -> str:
    """Text with every non-printable character as its escape (``\\x00``, ``\\u202e``), cut to ``limit``."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in shorten(value, limit * 2))
    return shorten(text, limit)


def song_label(title: object, artist: object, extra: str = "") -> str:
    """'title · artist' (· extra) for a picker option."""
    parts = [visible(title, 60), visible(artist, 40), *([extra] if extra else [])]
    return " · ".join(parts)
