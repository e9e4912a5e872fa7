"""Real data contains any characters: a dataset whose top track, its artist, a genre and the top listener carry
HTML goes through every page; nothing reaches the browser as markup (Markdown, Plotly labels, the graph); the
Overview's Vega-Lite charts draw names as SVG text, so there the name arrives as typed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from apptest_helpers import assert_clean, vega_tables

TITLE = "<img src=x onerror=alert(1)>"
ARTIST = "Bob & <b>Alice</b> *stars* $x$"
USER = "<script>alert('u')</script>"
GENRE = "R&B <i>soul</i>"
PAGES = ["overview", "recommendations", "explanation", "compare", "cold_start", "explore"]


@pytest.fixture(scope="module")
def hostile_dir(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint folder with a small model trained on the dataset with hostile names."""
    from recsys.config import Config, ModelConfig, TrainConfig
    from recsys.data import load_dataset
    from recsys.training import train

    data = tmp_path_factory.mktemp("hostile") / "data"
    shutil.copytree(small_data, data)
    plays = pd.read_parquet(data / "interactions.parquet")
    top_track = plays["track_id"].value_counts().index[0]
    top_user = plays["user_id"].value_counts().index[0]
    tracks = pd.read_parquet(data / "tracks.parquet")
    tracks.loc[tracks["track_id"] == top_track, "title"] = TITLE
    tracks.to_parquet(data / "tracks.parquet", index=False)
    artist = tracks.loc[tracks["track_id"] == top_track, "artist_id"].iat[0]
    artists = pd.read_parquet(data / "artists.parquet")
    artists.loc[artists["artist_id"] == artist, "name"] = ARTIST
    artists.to_parquet(data / "artists.parquet", index=False)
    users = pd.read_parquet(data / "users.parquet")
    users.loc[users["user_id"] == top_user, "name"] = USER
    users.to_parquet(data / "users.parquet", index=False)
    _rename_genre(data)
    folder = data.parent / "checkpoints"
    folder.mkdir()
    config = Config(ModelConfig(embedding_dim=16, hidden_dim=16), TrainConfig(epochs=2, batch_size=4096, seed=0))
    train(load_dataset(data), config, out=folder / "default.pt", progress=False, log=lambda _: None)
    return folder


def _rename_genre(data: Path) -> None:
    """Rename the first genre everywhere it appears (genre vocabulary and genre links)."""
    genres = pd.read_parquet(data / "genres.parquet")
    old = genres["genre"].iat[0]
    for path in data.glob("*genre*.parquet"):
        table = pd.read_parquet(path)
        for column in ("genre", "parent"):
            if column in table:
                table[column] = table[column].replace(old, GENRE)
        table.to_parquet(path, index=False)


def _markdown(at) -> list[str]:
    """Every Markdown source on the page (data in it must be backslash-escaped)."""
    return [str(e.value) for kind in ("markdown", "caption", "info", "warning", "error", "success", "title",
                                      "header", "subheader") for e in getattr(at, kind)]


def _markup(at) -> list[str]:
    """Everything parsed as HTML: st.html bodies, Plotly specs (labels are pseudo-HTML), the graph's iframe."""
    return [element.proto.spec for element in at.get("plotly_chart")] + [
        str(element.proto) for kind in ("html", "iframe") for element in at.get(kind)]


@pytest.mark.parametrize("page", PAGES)
def test_hostile_names_never_reach_the_browser_as_markup(app_factory, hostile_dir, page):
    at = app_factory(page, folder=hostile_dir)
    assert_clean(at)
    if page == "explanation":  # the top listener's first recommendation: the graph names the hostile track
        at.button(key="w.whatif").click().run()
        assert_clean(at)
    tags = re.compile(r"<(?:img src=x|script>alert|b>Alice|i>soul)")  # the hostile names' tags, not the app's own
    for text in _markdown(at):
        assert not re.search(rf"(?<!\\){tags.pattern}", text), (page, text[:300])
    for text in _markup(at):
        assert not tags.search(text), (page, text[:300])
    if page == "recommendations":  # the names are there, escaped: the top listener's name heads the profile
        assert any("\\<script\\>alert" in text for text in _markdown(at))
    if page == "overview":  # and the genre's name labels a Vega-Lite bar as typed: drawn as SVG text, never HTML
        assert GENRE in {g for table in vega_tables(at, "genre") for g in table["genre"]}
