"""Links to real IDs hold any text: a listener and a song whose IDs are 300 characters long with control and
bidirectional marks open from a link (shown escaped); unknown ones get a short, clear message (issue 10)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from apptest_helpers import assert_clean, texts

ODD_USER = "u\u202e" + "x" * 300 + "\x07end"
ODD_TRACK = "t\x00" + "y" * 300 + "\u202e"


@pytest.fixture(scope="module")
def odd_dir(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint folder with a small model on a dataset whose top listener and their first song have odd IDs."""
    from recsys.config import Config, ModelConfig, TrainConfig
    from recsys.data import load_dataset
    from recsys.training import train

    data = tmp_path_factory.mktemp("odd") / "data"
    shutil.copytree(small_data, data)
    plays = pd.read_parquet(data / "interactions.parquet")
    top_user = plays["user_id"].value_counts().index[0]
    mine = plays[plays["user_id"] == top_user]
    top_track = mine.sort_values("timestamp")["track_id"].iat[0]  # their first song: in training under any split
    for name, column, old, new in (("interactions", "user_id", top_user, ODD_USER),
                                   ("interactions", "track_id", top_track, ODD_TRACK),
                                   ("users", "user_id", top_user, ODD_USER),
                                   ("tracks", "track_id", top_track, ODD_TRACK)):
        table = pd.read_parquet(data / f"{name}.parquet")
        table[column] = table[column].replace(old, new)
        table.to_parquet(data / f"{name}.parquet", index=False)
    folder = data.parent / "checkpoints"
    folder.mkdir()
    config = Config(ModelConfig(embedding_dim=16, hidden_dim=16), TrainConfig(epochs=2, batch_size=4096, seed=0))
    train(load_dataset(data), config, out=folder / "default.pt", progress=False, log=lambda _: None)
    return folder


def test_a_link_to_an_odd_but_real_listener_and_song_opens_them(app_factory, odd_dir):
    at = app_factory("explanation", folder=odd_dir, user=ODD_USER, track=ODD_TRACK)
    assert_clean(at)
    assert not at.warning, texts(at, "warning")
    assert at.session_state["view.user"] == ODD_USER
    assert at.selectbox(key="w.user").value == ODD_USER and at.selectbox(key="w.track").value == ODD_TRACK
    assert at.query_params["user"] == ODD_USER and at.query_params["track"] == ODD_TRACK  # the link stays exact
    shown = at.selectbox(key="w.user").format_func(ODD_USER)  # the picker names the listener escaped and cut
    assert "\\u202e" in shown and "\u202e" not in shown and "\x07" not in shown and len(shown) < 200


def test_an_odd_song_in_an_edit_link_is_found(app_factory, odd_dir):
    from recsys import Recommender

    rec = Recommender.load(odd_dir / "default.pt")
    heard = rec.user_history(ODD_USER)["track_id"].tolist()
    assert ODD_TRACK in heard
    at = app_factory("recommendations", folder=odd_dir, user=ODD_USER, drop=ODD_TRACK)
    assert_clean(at)
    assert not at.warning, texts(at, "warning")
    assert at.multiselect(key="w.drop").value == [ODD_TRACK]


def test_an_unknown_long_id_gets_a_short_clear_message(app_factory, odd_dir):
    at = app_factory("recommendations", folder=odd_dir, user="nobody" + "z" * 5000)
    assert not at.exception and not at.error
    warnings = texts(at, "warning")
    assert len(warnings) == 1 and "Unknown user" in warnings[0], warnings
    assert len(warnings[0]) < 600
