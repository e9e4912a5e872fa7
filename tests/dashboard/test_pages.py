"""Every page through the real router (AppTest): renders, deep links, garbage links, the live slider, exports."""

from __future__ import annotations

import base64
import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from apptest_helpers import assert_clean, texts, vega_tables
from conftest import STORED

from dashboard.components import theme

PAGES = ["overview", "recommendations", "explanation", "compare", "cold_start", "explore"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_errors(app_factory, page):
    at = app_factory(page)
    assert_clean(at)
    assert at.title, "the page has a title"
    assert not at.warning, texts(at, "warning")


@pytest.mark.parametrize("page", [p for p in PAGES if p != "cold_start"])
def test_every_page_introduces_itself_and_says_how_to_read_it(app_factory, page):
    at = app_factory(page)
    assert len(texts(at, "markdown")[0]) > 60  # the one-line introduction under the title
    assert "How to read this page" in [e.label for e in at.expander]


def test_overview_genre_chart_rolls_up_to_parents(app_factory):
    at = app_factory("overview")
    names = list(vega_tables(at, "genre")[0]["genre"])
    assert "Alternative Rock" in names  # a sub-genre of Rock in the small synthetic data
    at.toggle(key="w.overview_rollup").set_value(True).run()
    assert_clean(at)
    rolled = list(vega_tables(at, "genre")[0]["genre"])
    assert "Alternative Rock" not in rolled and "Rock" in rolled and len(rolled) < len(names)


def test_overview_reads_the_stored_card_without_loading_the_model(app_factory, checkpoint_dir, monkeypatch,
                                                                 tmp_path):
    from dashboard import resources

    def no_model():
        raise AssertionError("the Overview loaded the model although default.pt has a valid card")

    monkeypatch.setattr(resources, "current", no_model)
    at = app_factory("overview")
    assert_clean(at)
    assert {"Listeners", "Parameters"} <= {m.label for m in at.metric}
    folder = tmp_path / "checkpoints"  # the same checkpoint without its card: the Overview needs the model
    folder.mkdir()
    for name in ("default.pt", "default.eval.json"):
        shutil.copy(checkpoint_dir / name, folder / name)
    at = app_factory("overview", folder=folder)
    assert any("loaded the model" in str(code.value) for code in at.code)  # the error boundary's details


def test_overview_shows_counts_model_card_and_the_evaluation_report(app_factory):
    at = app_factory("overview")
    labels = [m.label for m in at.metric]
    assert {"Listeners", "Songs", "Artists", "Genres", "Parameters", "Epochs"} <= set(labels)
    report = [t.value for t in at.table if t.value.index.name == "model"]
    assert report and report[0].index[0] == "enhanced_gat"  # sorted by ndcg@10
    quality = next(t.value for t in at.table if t.value.index.name == "metric")
    assert list(quality.columns) == ["valid", "test"] and "ndcg@10" in quality.index
    assert any("default.eval.json" in c for c in texts(at, "caption"))


def test_recommendations_deep_link_seeds_user_k_and_weight(app_factory, users):
    at = app_factory("recommendations", user=users[3], k="7", genre_weight="0.4")
    assert_clean(at)
    assert at.session_state["view.user"] == users[3]
    assert at.selectbox(key="w.user").value == users[3]
    assert at.number_input(key="w.k").value == 7
    assert at.slider(key="w.gw").value == pytest.approx(0.4)
    assert at.toggle(key="w.gw_adaptive").value is False
    table = _ranking(at)
    assert len(table) == 7
    assert at.query_params == {"user": users[3], "k": "7", "genre_weight": "0.4"}  # the link stays shareable


def test_slider_reranks_and_shows_the_moves(app_factory, users):
    at = app_factory("recommendations", user=users[0], k="20", genre_weight="0")
    before = _ranking(at)["title"].tolist()
    assert set(_ranking(at)["move"]) == {""}  # nothing to compare with yet
    at.slider(key="w.gw").set_value(1.0).run()
    assert_clean(at)
    after = _ranking(at)
    assert after["title"].tolist() != before
    assert any(m.startswith(("▲", "▼")) or m == "✦ new" for m in after["move"])
    assert any("against 0.00" in m for m in texts(at, "markdown"))
    assert at.query_params["genre_weight"] == "1"
    at.toggle(key="w.gw_adaptive").set_value(True).run()  # back to adaptive: the weight leaves the URL
    assert "genre_weight" not in at.query_params
    assert any("adaptive" in m for m in texts(at, "markdown"))


def test_unknown_user_in_a_link_is_a_friendly_warning(app_factory, users):
    at = app_factory("recommendations", user="nobody-like-this")
    assert not at.exception
    assert any("Unknown user" in w and "most active listener" in w for w in texts(at, "warning"))
    assert at.session_state["view.user"] == users[0]
    assert len(_ranking(at)) == 10


@pytest.mark.parametrize("page", ["recommendations", "explanation"])
def test_garbage_query_parameters_fall_back_to_defaults(app_factory, page):
    at = app_factory(page, user="<script>alert(1)</script>", genre_weight="abc", k="-5", track="<img src=x>")
    assert not at.exception
    shown = " ".join(texts(at, "warning"))
    assert "genre_weight=abc" in shown and "k=-5" in shown and "Unknown user '<script>alert(1)</script>'" in shown
    raw = " ".join(str(w.value) for w in at.warning)
    assert "<script>" not in raw  # in the Markdown source every < is escaped: it displays as text
    assert at.toggle(key="w.gw_adaptive").value is True  # defaults: adaptive weight, k = 10, top listener
    assert "genre_weight" not in at.query_params and at.query_params.get("k", "10") == "10"
    assert at.query_params["user"] == at.session_state["view.user"] != "<script>alert(1)</script>"


def test_search_and_random_pick_users(app_factory, users):
    at = app_factory("recommendations")
    at.text_input(key="w.user_query").set_value(users[5]).run()
    assert any(users[5] in option for option in at.selectbox(key="w.user").options)
    at.selectbox(key="w.user").set_value(users[5]).run()
    assert at.session_state["view.user"] == users[5]
    at.button(key="w.random").click().run()
    assert_clean(at)
    assert at.query_params["user"] == at.session_state["view.user"]


def test_downloads_carry_the_list(app_factory, users, monkeypatch):
    served = _served_files(monkeypatch)
    at = app_factory("recommendations", user=users[1], k="5")
    assert {"Download CSV", "Download JSON"} <= {b.label for b in at.get("download_button")}
    shown = _ranking(at)
    csv = pd.read_csv(io.BytesIO(served[f"recommendations_{users[1]}.csv"]))
    assert csv["title"].tolist() == shown["title"].tolist() and len(csv) == 5
    payload = json.loads(served[f"recommendations_{users[1]}.json"])
    assert payload["user_id"] == users[1] and payload["k"] == 5 and payload["half_life_days"] is None
    assert [r["title"] for r in payload["recommendations"]] == shown["title"].tolist()


def _served_files(monkeypatch) -> dict[str, bytes]:
    """File name -> bytes of every download the app offers (AppTest's media storage is gone after a run)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    served: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        served[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return served


def test_recent_taste_ranks_with_the_half_life(app_factory, users, recommender):
    at = app_factory("recommendations", user=users[0])
    at.toggle(key="w.recent").set_value(True).run()
    assert_clean(at)
    expected = recommender.recommend(users[0], 10, half_life_days=30.0)["title"].tolist()
    assert _ranking(at)["title"].tolist() == expected
    assert any("half-life 30 days" in m for m in texts(at, "markdown"))
    at.select_slider(key="w.half_life").set_value(7).run()
    assert _ranking(at)["title"].tolist() == recommender.recommend(users[0], 10, half_life_days=7.0)["title"].tolist()


def test_drift_chart_shows_genre_shares_and_rolls_up(app_factory, users):
    at = app_factory("recommendations", user=users[0])
    traces = _traces(at, "drift")
    assert traces and all(t["stackgroup"] == "shares" for t in traces)
    shares = pd.concat([pd.DataFrame({"period": t["x"], "share": t["y"]}) for t in traces]).groupby("period")["share"]
    assert shares.sum().to_numpy() == pytest.approx(1.0, abs=1e-6)  # each period's shares add up to 1
    at.toggle(key="w.drift_rollup").set_value(True).run()
    assert_clean(at)
    assert "Alternative Rock" not in {t["name"] for t in _traces(at, "drift")}


def _traces(at, key: str) -> list[dict]:
    """The traces of a Plotly chart on the page, typed arrays ({"dtype", "bdata"}) decoded to lists."""
    def decode(value):
        if isinstance(value, dict) and "bdata" in value:
            return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
        return value

    spec = json.loads(next(c for c in at.get("plotly_chart") if key in c.proto.id).proto.spec)
    return [{name: decode(value) for name, value in trace.items()} for trace in spec["data"]]


def test_k_above_the_maximum_is_explained(app_factory, users):
    at = app_factory("recommendations", user=users[0])
    at.number_input(key="w.k").set_value(150).run()
    assert not at.exception
    assert any("At most 100 songs" in w and "150" in w for w in texts(at, "warning"))
    assert len(_ranking(at)) == 100 and at.query_params["k"] == "100"


def test_explain_button_opens_the_explanation_of_that_song(app_factory, users):
    at = app_factory("recommendations", user=users[2])
    first = _ranking(at)["title"].iat[0]
    at.button(key="w.explain_go").click().run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Why this song?"]
    assert at.query_params["user"] == users[2] and at.query_params["track"] == at.session_state["view.track"]
    track = at.selectbox(key="w.track")
    assert track.value == at.session_state["view.track"] and first in track.format_func(track.value)


def test_explanation_deep_link_and_what_if(app_factory, users, recommender):
    track = recommender.recommend(users[4], 3, genre_weight=0.5)["track_id"].iat[2]  # 3rd at the linked weight
    at = app_factory("explanation", user=users[4], track=track, genre_weight="0.5")
    assert_clean(at)
    assert at.selectbox(key="w.track").value == track
    assert at.slider(key="w.gw").value == pytest.approx(0.5)
    sentence = texts(at, "info")[0]
    assert "is recommended" in sentence
    labels = {m.label: m.value for m in at.metric}
    assert labels["Rank"] == "#3" and labels["Genre weight"] == "0.50"
    at.button(key="w.whatif").click().run()
    assert_clean(at)
    assert any("drop" in d.value.columns for d in at.dataframe)
    download = [b for b in at.get("download_button") if "explanation" in b.label.lower()]
    assert download


def test_explanation_of_an_unknown_track_falls_back(app_factory, users):
    at = app_factory("explanation", user=users[0], track="no-such-track")
    assert not at.exception
    assert any("Unknown track" in w for w in texts(at, "warning"))
    assert at.session_state["view.track"] != "no-such-track"


def test_compare_shows_both_checkpoints_and_every_stored_baseline(app_factory, users, checkpoint_dir):
    from recsys import Recommender

    recommender = Recommender.load(checkpoint_dir / "default.pt")  # with default.baselines.json beside it
    at = app_factory("compare", user=users[0], k="5")
    assert_clean(at)
    lists = [d.value for d in at.dataframe if "shared" in d.value.columns]
    names = recommender.baseline_names()
    assert set(STORED) <= set(names)
    assert len(lists) == 2 + len(names)  # default.pt, basic.pt and every stored baseline, at once
    stored = json.loads((checkpoint_dir / "default.baselines.json").read_text(encoding="utf-8"))["models"]
    titles = dict(zip(recommender.search_tracks(limit=10_000)["track_id"],
                      recommender.search_tracks(limit=10_000)["title"], strict=True))
    for name in STORED:
        expected = [titles[t] for t in stored[name]["users"][users[0]][:5]]
        assert any(frame["title"].tolist() == expected for frame in lists), name  # read from the file, as stored
    assert any(f"in all {len(lists)} lists" in c for c in texts(at, "caption"))


def test_cold_start_from_genres_in_the_link(app_factory, recommender):
    genres = recommender.genres()[:2]
    at = app_factory("cold_start", genres=",".join(genres), k="6")
    assert_clean(at)
    assert at.multiselect(key="w.genres").value == genres
    assert len(at.dataframe[0].value) == 6
    at = app_factory("cold_start", genres="NoSuchGenre")
    assert any("Unknown genre" in w for w in texts(at, "warning"))


def test_explore_neighbours_of_the_linked_track(app_factory, recommender):
    track = recommender.search_tracks(limit=5)["track_id"].iat[4]
    at = app_factory("explore", track=track)
    assert_clean(at)
    assert at.selectbox(key="w.explore_track").value == track
    assert any("similarity" in d.value.columns for d in at.dataframe)


def _ranking(at):
    """The recommendation table (the one with the 'move' column)."""
    frames = [d.value for d in at.dataframe if "move" in d.value.columns]
    assert frames, "no recommendation table on the page"
    return frames[0]


def test_exports_are_valid_json():
    from dashboard.components.tables import to_json

    assert json.loads(to_json({"a": float("nan"), "b": [1.5, float("inf")]})) == {"a": None, "b": [1.5, None]}


def test_basic_model_explanation_claims_only_its_graph_part(app_factory, users):
    at = app_factory("explanation", model="basic.pt", user=users[0])
    assert_clean(at)
    labels = [m.label for m in at.metric]
    assert not any("history" in label.lower() or "genre" in label.lower() for label in labels), labels
    assert not [s for s in at.slider if s.key == "w.gw"]  # no genre weight that would do nothing
    assert any("no genre part" in c for c in texts(at, "caption"))
    sentence = texts(at, "info")[0]
    assert "graph" in sentence.lower() and "played" not in sentence, sentence


def test_explanation_names_the_largest_part_and_its_share(app_factory, users, recommender):
    at = app_factory("explanation", user=users[1])
    assert_clean(at)
    track = at.session_state["view.track"]
    explained = recommender.explain(users[1], track)
    parts = {theme.PART_LABELS[p["name"]]: p for p in explained["parts"]}
    metrics = {m.label: m for m in at.metric}
    for label, part in parts.items():
        assert metrics[label].value == f"{part['value']:+.3f}"
    largest = max(explained["parts"], key=lambda p: p["share"])
    assert largest["name"] == explained["largest_part"]


def test_graph_is_built_with_the_genre_weight_on_screen(app_factory, users, recommender):
    at = app_factory("explanation", user=users[2], genre_weight="0.9")
    assert_clean(at)
    track = at.session_state["view.track"]
    score = recommender.explain(users[2], track, genre_weight=0.9)["score"]
    assert f"score {score:.3f}" in str(at.get("iframe")[0].proto)  # the star's hover score is the page's score
    assert at.slider(key="w.max_nodes").value == 14
    at.toggle(key="w.focus").set_value(True).run()
    assert_clean(at)
    assert any("focus: top paths only" in c for c in texts(at, "caption"))


def test_explanation_states_the_stored_attention_figures_in_plain_words(app_factory, users, checkpoint_dir,
                                                                       tmp_path):
    """Both measures of `faithfulness --store` (attention fidelity, whole score and graph part; attention AUC
    on planted genres) are stated for the loaded model; without the file, how to measure them."""
    import shutil

    folder = tmp_path / "checkpoints"
    shutil.copytree(checkpoint_dir, folder)
    at = app_factory("explanation", folder=folder, user=users[0])
    assert_clean(at)
    assert any("python -m recsys faithfulness" in c for c in texts(at, "caption"))
    (folder / "default.faithfulness.json").write_text(json.dumps({
        "attention_fidelity": {"k": 3, "top_drop": 0.278, "random_drop": 0.248, "ratio": 1.12,
                               "graph_top_drop": 0.215, "graph_random_drop": 0.099, "graph_ratio": 2.18,
                               "users": 50},
        "attention_auc": {"attention": 0.76, "normalisation": 0.53, "users": 862}}), encoding="utf-8")
    at = app_factory("explanation", folder=folder, user=users[0])
    assert_clean(at)
    captions = " ".join(texts(at, "caption"))
    assert "1.1x as much as removing 3 random ones" in captions
    assert "graph-embedding part of the score alone (the part attention computes) it is 2.2x" in captions
    assert "76% of the time" in captions and "normalisation alone: 53%" in captions and "862 listeners" in captions
