"""Escaping for data values shown as Markdown or HTML: real names contain any characters."""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=])")


def md(value: object) -> str:
    """Data as literal Markdown text: every Markdown, HTML, LaTeX ($) and emoji-code (:) character is escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", "  \n")


def esc(value: object) -> str:
    """Data as literal HTML text (also for Plotly labels, which understand a subset of HTML and its entities)."""
    return html.escape(str(value), quote=True)


def shorten(value: object, limit: int = 40) -> str:
    """A label that fits a chart axis or a graph node."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sentence(value: object) -> str:
    """An error message as the start of a sentence ('unknown user ...' -> 'Unknown user ...')."""
    text = str(value)
    return text[:1].upper() + text[1:]


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 song', '2 songs', '1,204 listeners' (``many`` for irregular plurals: 'match' -> 'matches')."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def clause(value: object) -> str:
    """A message without its closing punctuation, to continue it in a sentence ('...?' + '.' read '?.')."""
    return sentence(value).rstrip(" .?!")
