"""Small assertions shared by the AppTest modules."""

from __future__ import annotations

import re


def texts(at, kind: str) -> list[str]:
    """The text of every element of one kind (error, warning, info, caption, markdown) on the page, as the reader
    sees it (the dashboard backslash-escapes data in Markdown; the escapes are removed here)."""
    return [re.sub(r"\\(.)", r"\1", str(element.value)) for element in getattr(at, kind)]


def assert_clean(at) -> None:
    """No uncaught exception and no error box."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at, "error")
