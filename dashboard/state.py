"""Shareable view state: the model, user, track, k, genre weight, genres and history edits live in session state
AND in the URL.

The router calls `read_url()` once per run: a query parameter that differs from what the app last wrote (a deep
link, an edited URL) is parsed, validated and applied; a bad one becomes a friendly warning and the default
stays. Pages read and write values with `get` / `put`, and `publish(page)` writes the page's values back to the
URL, so the address bar always holds a link that reproduces the view. Widget keys are never the source of truth
(Streamlit forgets them on pages where the widget is absent); the `view.*` keys are.

A what-if edit of a listener's history is two compact lists, ``?user=u0001&add=t1,t2&drop=t3``; it belongs to the
listener in ``view.edit_user`` (the history editor clears it when another listener is chosen).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import streamlit as st

from dashboard.components.text import md, shorten
from recsys import ConfigError, check_genre_weight

MAX_K = 100
DEFAULT_K = 10
ADAPTIVE = "adaptive"
MAX_GENRES = 20
MAX_EDITS = 500  # songs one link may add, drop or start from
STARTS = ("genres", "songs", "upload")  # how a new listener starts
EDIT_PARAMS = ("add", "drop")


def parse_id(raw: str) -> str:
    """A user or track ID exactly as written: real IDs contain any text (long, non-printable), so the only rule here
    is "not blank"; whether it exists is checked against the model, and it is escaped wherever it is shown."""
    if not raw.strip():
        raise ValueError("an ID must not be empty")
    return raw


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
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names or len(names) > MAX_GENRES:
        raise ValueError(f"genres must list 1 to {MAX_GENRES} genre names separated by commas")
    return names


def parse_ids(raw: str) -> tuple[str, ...]:
    """Comma-separated track IDs (``%2C`` for a comma and ``%25`` for a percent sign inside an ID), in order."""
    ids = tuple(dict.fromkeys(unquote(part) for part in raw.split(",") if part.strip()))
    if len(ids) > MAX_EDITS:
        raise ValueError(f"a link lists at most {MAX_EDITS} songs")
    return ids


def format_ids(ids: tuple[str, ...]) -> str:
    """The compact form `parse_ids` reads back: only ``%`` and ``,`` are escaped, so plain IDs stay readable."""
    return ",".join(i.replace("%", "%25").replace(",", "%2C") for i in ids)


def parse_start(raw: str) -> str:
    text = raw.strip().lower()
    if text not in STARTS:
        raise ValueError(f"start must be one of {', '.join(STARTS)}")
    return text


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
    "add": Param(parse_ids, format_ids, ()),
    "drop": Param(parse_ids, format_ids, ()),
    "songs": Param(parse_ids, format_ids, ()),
    "start": Param(parse_start, str),
}

# The values each page shows in its URL (by the page's url_path); "model" is added whenever one is chosen.
PAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "overview": (),
    "recommendations": ("user", "k", "genre_weight", *EDIT_PARAMS),
    "explanation": ("user", "track", "genre_weight", *EDIT_PARAMS),
    "compare": ("user", "k"),
    "cold_start": ("start", "genres", "songs", "k"),
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
    warnings, changed = [], set()
    for name, param in PARAMS.items():
        raw = st.query_params.get(name)
        if raw is None or seen.get(name) == raw:
            continue
        seen[name] = raw
        changed.add(name)
        try:
            put(name, param.parse(raw))
        except ValueError as exc:
            default = "the default" if param.default in (None, ()) else f"{param.default}"
            warnings.append(f"Ignored the link's {md(name)}={md(shorten(raw, 60))}: {md(exc)}. Using {md(default)} "
                            "instead.")
    _adopt_edits(changed)
    return warnings


def _adopt_edits(changed: set[str]) -> None:
    """A link's history edit belongs to the link's listener; a link to another listener without one clears it."""
    if "user" in changed:
        for name in EDIT_PARAMS:
            if name not in st.query_params:
                put(name, ())
    if changed & {"user", *EDIT_PARAMS}:
        st.session_state["view.edit_user"] = get("user")


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
