"""Shareable view state: the model, user, track, k, genre weight and genres live in session state AND in the URL.

The router calls `read_url()` once per run: a query parameter that differs from what the app last wrote (a deep
link, an edited URL) is parsed, validated and applied; a bad one becomes a friendly warning and the default
stays. Pages read and write values with `get` / `put`, and `publish(page)` writes the page's values back to the
URL, so the address bar always holds a link that reproduces the view. Widget keys are never the source of truth
(Streamlit forgets them on pages where the widget is absent); the `view.*` keys are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.components.text import md, shorten
from recsys import ConfigError, check_genre_weight

MAX_K = 100
DEFAULT_K = 10
ADAPTIVE = "adaptive"
MAX_ID_LENGTH = 200
MAX_GENRES = 20


def parse_id(raw: str) -> str:
    """A user or track ID: non-empty printable text (whether it exists is checked against the model later)."""
    text = raw.strip()
    if not text or len(text) > MAX_ID_LENGTH or not text.isprintable():
        raise ValueError(f"an ID is printable text of 1 to {MAX_ID_LENGTH} characters")
    return text


def parse_k(raw: str) -> int:
    """k: a whole number from 1 to MAX_K."""
    try:
        k = int(raw.strip())
    except ValueError:
        k = 0
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be a whole number from 1 to {MAX_K}")
    return k


def parse_genre_weight(raw: str) -> float | None:
    """``adaptive`` (None: each listener's own weight) or a number in [0, 1]."""
    text = raw.strip().lower()
    if text in (ADAPTIVE, "auto", "none"):
        return None
    try:
        return check_genre_weight(text)
    except ConfigError:
        raise ValueError(f"genre_weight must be a number from 0 to 1, or '{ADAPTIVE}'") from None


def format_genre_weight(value: float | None) -> str:
    return ADAPTIVE if value is None else f"{value:g}"


def parse_genres(raw: str) -> tuple[str, ...]:
    """Comma-separated genre names (checked against the dataset's genres by the page)."""
    names = tuple(dict.fromkeys(parse_id(part) for part in raw.split(",") if part.strip()))
    if not names or len(names) > MAX_GENRES:
        raise ValueError(f"genres must list 1 to {MAX_GENRES} genre names separated by commas")
    return names


def parse_model(raw: str) -> str:
    """A checkpoint file name inside the checkpoint folder (never a path)."""
    text = raw.strip()
    if not re.fullmatch(r"[\w.\- ]{1,120}\.pt", text) or text.startswith("."):
        raise ValueError("model must be the file name of a checkpoint in the checkpoint folder, like default.pt")
    return text


@dataclass(frozen=True)
class Param:
    """One shareable value: how to read it from and write it to the URL, and its default."""

    parse: Callable[[str], Any]
    format: Callable[[Any], str]
    default: Any = None


PARAMS: dict[str, Param] = {
    "model": Param(parse_model, str),
    "user": Param(parse_id, str),
    "track": Param(parse_id, str),
    "k": Param(parse_k, str, DEFAULT_K),
    "genre_weight": Param(parse_genre_weight, format_genre_weight),
    "genres": Param(parse_genres, ",".join, ()),
}

# The values each page shows in its URL (by the page's url_path); "model" is added whenever one is chosen.
PAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "overview": (),
    "recommendations": ("user", "k", "genre_weight"),
    "explanation": ("user", "track", "genre_weight"),
    "compare": ("user", "k"),
    "cold_start": ("genres", "k"),
    "explore": ("track",),
}


def get(name: str) -> Any:
    """The current value of a shareable parameter (its default when unset)."""
    return st.session_state.get(f"view.{name}", PARAMS[name].default)


def put(name: str, value: Any) -> None:
    st.session_state[f"view.{name}"] = value


def read_url() -> list[str]:
    """Apply query parameters that changed since the app last wrote them; returns warnings for invalid ones."""
    seen: dict[str, str] = st.session_state.setdefault("_url_seen", {})
    warnings = []
    for name, param in PARAMS.items():
        raw = st.query_params.get(name)
        if raw is None or seen.get(name) == raw:
            continue
        seen[name] = raw
        try:
            put(name, param.parse(raw))
        except ValueError as exc:
            default = "the default" if param.default in (None, ()) else f"{param.default}"
            warnings.append(f"Ignored the link's {md(name)}={md(shorten(raw, 60))}: {md(exc)}. Using {md(default)} "
                            "instead.")
    return warnings


def publish(page: str) -> None:
    """Write the page's values to the URL (only when they changed, so a rerun sends nothing)."""
    names = (*PAGE_PARAMS.get(page, ()), "model")
    desired = {}
    for name in names:
        value = get(name)
        if value is not None and value != ():
            desired[name] = PARAMS[name].format(value)
    current = {key: st.query_params.get(key) for key in st.query_params}
    if current != desired:
        st.query_params.from_dict(desired)
    st.session_state.setdefault("_url_seen", {}).update(desired)
