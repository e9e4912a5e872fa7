"""The upload box of the New listener page: listening exports parsed in memory, matched to the model's catalogue.

Uploads never touch the disk (Streamlit keeps them in memory; the importers read bytes). The file and its parsed
plays never enter a cache shared with other sessions: only the matched (track_id, weight) history is kept, in this
session's state, and hashed into the answer caches' keys. A file that is too big, of the wrong format or broken gets
one clear message and leaves the previous upload's listener as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.components.errors import DashboardError
from dashboard.components.labels import visible
from dashboard.components.text import md, sentence
from recsys import RecsysError

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

MAX_FILES_MB = 100  # one upload, all files together: several years of Spotify extended history (12 MB a file)
DETECT = "detect from the file name"
FORMAT_LABELS = {"spotify": "Spotify account data (StreamingHistory*.json)",
                 "spotify-extended": "Spotify extended streaming history (Streaming_History_Audio_*.json)",
                 "lastfm-csv": "Last.fm scrobbles (CSV: artist, album, track, date)",
                 "listenbrainz": "ListenBrainz export (JSON)"}
_NAME_PATTERNS = [(re.compile(r"streaming_history_(audio|video)|endsong", re.I), "spotify-extended"),
                  (re.compile(r"streaminghistory", re.I), "spotify"),
                  (re.compile(r"listenbrainz|listens", re.I), "listenbrainz"),
                  (re.compile(r"\.csv$", re.I), "lastfm-csv")]
STATE = "_upload"  # session-private: {"key", "name", "history", "report"}


@dataclass(frozen=True)
class Upload:
    """A matched upload: the listener's history and the importers' match report."""

    name: str
    history: resources.History
    report: dict[str, Any]


def detect_format(name: str) -> str | None:
    """The export format a file name announces (Spotify's and ListenBrainz's own names, .csv for Last.fm)."""
    return next((fmt for pattern, fmt in _NAME_PATTERNS if pattern.search(name)), None)


def parse(rec: Recommender, key: str, files: list[tuple[str, bytes]], fmt: str | None) -> Upload:
    """Read and match uploaded files (one listener); RecsysError with a clear message on any problem."""
    from recsys import match_history, read_listening_export  # the data layer, re-exported by recsys

    total = sum(len(data) for _, data in files)
    if total > MAX_FILES_MB * 2**20:
        raise DashboardError(f"the upload is {total / 2**20:.1f} MB; at most {MAX_FILES_MB} MB are read")
    frames = []
    for name, data in files:
        chosen = fmt or detect_format(name)
        if chosen is None:
            raise DashboardError(f"cannot tell the format of {visible(name, 60)!r} from its name; choose the format")
        frames.append(read_listening_export(data, chosen, name=name))
    plays = pd.concat(frames, ignore_index=True)
    result = match_history(plays, resources.catalogue(rec, key).reset_index(drop=True))
    if not result.history:
        raise DashboardError(f"none of the {len(plays):,} plays in the upload matched a song of this model's catalogue")
    label = files[0][0] if len(files) == 1 else f"{files[0][0]} and {len(files) - 1} more"
    return Upload(label, tuple((str(t), float(w)) for t, w in result.history), result.report)


def upload_box(rec: Recommender, key: str) -> Upload | None:
    """The uploader and format choice; parses a new upload once and returns this session's current one."""
    files_col, format_col = st.columns([3, 2], vertical_alignment="top")
    from recsys import MAX_EXPORT_BYTES  # the importers' limit per file, refused before parsing

    per_file = MAX_EXPORT_BYTES // 2**20
    files = files_col.file_uploader(
        "Listening history export", type=["json", "csv", "jsonl"], accept_multiple_files=True, key="w.upload",
        max_upload_size=per_file, help=f"Up to {per_file} MB a file and {MAX_FILES_MB} MB in all, read in memory "
                                       "and never stored: " + "; ".join(FORMAT_LABELS.values()))
    choice = format_col.selectbox("Format", [DETECT, *FORMAT_LABELS], key="w.upload_format",
                                  format_func=lambda f: FORMAT_LABELS.get(f, f))
    fmt = None if choice == DETECT else choice
    current: Upload | None = st.session_state.get(STATE, {}).get("upload")
    if not files:
        return current
    wanted = (key, fmt, tuple((f.file_id, f.name, f.size) for f in files))
    if st.session_state.get(STATE, {}).get("key") != wanted:
        try:
            current = parse(rec, key, [(f.name, f.getvalue()) for f in files], fmt)
        except RecsysError as exc:
            _refuse(exc, current)
            return current
        st.session_state[STATE] = {"key": wanted, "upload": current}
    return current


def _refuse(exc: RecsysError, previous: Upload | None) -> None:
    head, _, rest = sentence(exc).partition("\n")
    st.error(f"**{md(head)}**" + (f"  \n{md(rest)}" if rest else ""), icon=":material/upload_file:")
    if previous is not None:
        st.caption(f"Still showing the previous upload, {md(visible(previous.name, 60))}.")


def match_report(upload: Upload) -> None:
    """How much of the upload the model knows: matched plays and songs, unmatched names with close candidates."""
    report = upload.report
    plays, matched = report.get("plays", 0), report.get("matched_plays", 0)
    with st.container(border=True, key="match-report"):
        st.markdown(f"**Match report** · {md(visible(upload.name, 60))}")
        cells = st.columns(3)
        cells[0].metric("Plays read", f"{plays:,}")
        cells[1].metric("Plays matched", f"{matched:,}" + (f" ({matched / plays:.0%})" if plays else ""))
        cells[2].metric("Songs matched", f"{len(upload.history):,}")
        short, skips = report.get("short_plays", 0), report.get("skipped_plays", 0)
        if short or skips:
            seconds = report.get("short_play_ms", 30_000) / 1000
            st.caption(f"Weaker evidence: {short:,} short play(s) under {seconds:g} s and {skips:,} skip(s) count "
                       "less than full plays.")
        unmatched = report.get("unmatched") or []
        if unmatched:
            frame = pd.DataFrame(unmatched).assign(candidates=[
                "; ".join(f"{c['title']} · {c['artist']}" for c in row.get("candidates", [])) for row in unmatched])
            names = report.get("unmatched_names", len(unmatched))
            st.caption(f"{names:,} name(s) not in the catalogue; the {len(unmatched)} most played, with close "
                       "candidates:")
            st.dataframe(frame, hide_index=True, width="stretch", height=min(36 * (len(frame) + 1), 280))
