"""Explanations true to the model on screen: only the parts it has, the largest named first, genres with parents."""

from __future__ import annotations

import pytest
import torch

from recsys.service.explain import PART_LABELS, Explainer, sentence
from recsys.service.listener import Listener


@pytest.fixture(scope="module")
def basic(basic_run):
    from recsys import Recommender

    return Recommender.load(basic_run.checkpoint)


@pytest.fixture(scope="module")
def user(recommender) -> str:
    return str(recommender.search_users(limit=40)["user_id"].iloc[20])


def test_capabilities_say_which_parts_each_model_has(recommender, basic):
    assert recommender.capabilities == {"graph": True, "history": True, "genre": True, "adaptive_weight": True}
    assert basic.capabilities == {"graph": True, "history": False, "genre": False, "adaptive_weight": False}


def test_the_basic_model_is_explained_by_its_graph_embedding_only(basic, user):
    track = basic.recommend(user, k=1)["track_id"].iat[0]
    exp = basic.explain(user, track, genre_weight=0.7)  # a genre weight does nothing to the Basic model's score
    assert [p["name"] for p in exp["parts"]] == ["graph"] and exp["largest_part"] == "graph"
    assert exp["parts"][0]["share"] == 1.0 and exp["score"] == pytest.approx(exp["embedding_score"])
    assert exp["genre_influence_details"] is None and exp["genre_influence_by_parent"] == []
    text = exp["sentence"]
    assert "comes from the graph embedding" in text
    assert "genre" not in text and "played together" not in text and "played “" not in text


def test_the_sentence_names_the_largest_part_whichever_it_is(recommender, user):
    frame = recommender.recommend(user, k=30, genre_weight=1.0)
    seen = set()
    for track in frame["track_id"]:
        exp = recommender.explain(user, track, genre_weight=1.0)
        largest = max(exp["parts"], key=lambda p: abs(p["value"]))
        assert exp["largest_part"] == largest["name"]
        assert f"({largest['value']:+.2f} of {exp['score']:.2f}) comes from" in exp["sentence"]
        seen.add(exp["largest_part"])
    assert sum(p["share"] for p in exp["parts"]) == pytest.approx(1.0)
    assert seen  # at weight 1.0 the genre part is large for some songs; every largest part was named


def _listener(genres: list[int], shares: list[float], history: list[int] | None = None) -> Listener:
    share = torch.tensor(shares)
    songs = torch.tensor(history or [0, 1])
    return Listener("u", "Ann", 0, 0, songs, torch.ones(len(songs)), torch.zeros(4), torch.tensor(genres), share,
                    share / share.norm(), 0.1, ("test",))


def test_sentence_from_known_numbers():
    """A hand-made explanation: the genre part is largest, the graph part second, history too small to name."""
    numbers = {"score": 1.0, "embedding_score": 0.3, "item_item_score": 0.001, "genre_score": 0.699,
               "genre_weight": 0.5, "genre_influence": 1.398}
    parts = [{"name": n, "label": PART_LABELS[n], "value": v, "share": v}
             for n, v in (("graph", 0.3), ("history", 0.001), ("genre", 0.699))]
    genre = {"genre_details": [{"genre_idx": 3, "genre": "Indie Rock", "parent": "Rock", "contribution": 1.0}]}
    text = sentence(_listener([3, 5], [0.25, 0.75]), {"title": "Song", "artist": "Band"}, 4, numbers, parts, genre, [])
    assert text.startswith("“Song” by Band is recommended (#4) for Ann. Most of its score (+0.70 of 1.00) comes "
                           "from its genre, Indie Rock, part of Rock, 25% of Ann's listening (genre weight 0.50).")
    assert "It also gets +0.30 from the graph embedding" in text and "played together" not in text


def test_genre_influence_rolls_up_to_parents():
    explainer = Explainer.__new__(Explainer)  # by_parent reads nothing else
    details = {"genre_details": [{"genre": "Grunge", "parent": "Rock", "contribution": 0.2},
                                 {"genre": "Pop", "parent": None, "contribution": 0.25},
                                 {"genre": "Punk", "parent": "Rock", "contribution": 0.1}]}
    assert explainer.by_parent(details) == [
        {"genre": "Rock", "contribution": pytest.approx(0.3), "children": ["Grunge", "Punk"]},
        {"genre": "Pop", "contribution": 0.25, "children": []}]


def test_genre_details_carry_names_and_top_level_parents(recommender, user):
    track = recommender.recommend(user, k=1)["track_id"].iat[0]
    exp = recommender.explain(user, track)
    for detail in exp["genre_influence_details"]["genre_details"]:
        assert detail["genre"] == recommender.maps.genre.name_of(detail["genre_idx"])
        assert detail["parent"] == recommender.genre_parent(detail["genre"])
    rolled = exp["genre_influence_by_parent"]
    assert sum(r["contribution"] for r in rolled) == pytest.approx(exp["genre_influence"], abs=1e-5)
    assert all(recommender.genre_parent(r["genre"]) is None for r in rolled)


def test_history_contributions_sum_to_the_item_item_part(recommender, user):
    track = recommender.recommend(user, k=1)["track_id"].iat[0]
    listener = recommender.profiles.listener(recommender.user_index(user))
    contributions = recommender.explainer.contributions(listener, recommender.track_index(track))
    assert len(contributions) == len(listener.history)
    exp = recommender.explain(user, track)
    assert sum(c["item_item"] for c in contributions) == pytest.approx(exp["item_item_score"], rel=1e-4, abs=1e-6)
    assert [c["total"] for c in contributions] == sorted((c["total"] for c in contributions), reverse=True)
