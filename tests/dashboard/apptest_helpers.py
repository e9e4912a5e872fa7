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


def vega_tables(at, column: str | None = None) -> list:
    """The data (pandas DataFrames) of the page's Vega-Lite charts, or of those with ``column`` (AppTest keeps no
    chart keys)."""
    import pyarrow as pa

    charts = at.get("vega_lite_chart")
    blobs = [c.proto.data.data for c in charts] + [d.data.data for c in charts for d in c.proto.datasets]
    tables = [pa.ipc.open_stream(blob).read_all().to_pandas() for blob in blobs if blob]
    return [t for t in tables if column is None or column in t]
