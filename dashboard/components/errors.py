"""The dashboard's one error boundary: known errors become a clear message, anything else a friendly note.

Streamlit's own control flow (st.rerun, st.stop, st.switch_page) raises BaseException subclasses, which pass
through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from dashboard.components.text import md, sentence
from recsys import CheckpointError, DataValidationError, RecsysError

log = logging.getLogger("dashboard")


class DashboardError(RecsysError):
    """A problem the dashboard itself detects (a missing folder, no checkpoints), shown like any RecsysError."""


def show_error(exc: BaseException) -> None:
    """One st.error for a known error; its first line bold, the rest (a list of problems) below it."""
    head, _, rest = sentence(exc).partition("\n")
    st.error(f"**{md(head)}**" + (f"  \n{md(rest)}" if rest else ""), icon=":material/error:")
    if isinstance(exc, CheckpointError | DataValidationError):
        st.caption("Pick another checkpoint or dataset folder in the sidebar, or train a checkpoint for this data: "
                   "`python -m recsys train --data <folder> --out checkpoints/<name>.pt`")


@contextmanager
def boundary(what: str = "this part of the page") -> Iterator[None]:
    """Run a page body (or a part of it) so that no exception reaches the user as a traceback."""
    try:
        yield
    except RecsysError as exc:
        show_error(exc)
    except Exception as exc:
        log.exception("dashboard: unexpected error in %s", what)
        st.error(f"Sorry, something went wrong while drawing {what}. The rest of the dashboard still works: try "
                 "another selection, or reload the page.", icon=":material/sentiment_dissatisfied:")
        with st.expander("Details for the developers"):
            st.code(f"{type(exc).__name__}: {exc}", language=None, wrap_lines=True)
