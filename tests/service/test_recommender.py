"""The Recommender facade: exact decompositions, cached re-ranking, faithful attention and counterfactuals."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from recsys import Recommender
from recsys.errors import ConfigError, UnknownIdError
from recsys.graph.edit import without_listens
from tests.service.test_subgraph import connected


@pytest.fixture(scope="module")
def user(recommender) -> str:
    table = recommender.search_users(limit=40)
    return str(table["user_id"].iloc[20])  # an ordinary user, not the most active


def test_recommend_columns_order_and_exclusion(recommender, user):
    frame = recommender.recommend(user, k=10)
    assert list(frame.columns) == ["rank", "track_id", "title", "artist", "genres", "score", "base_score",
                                   "genre_score", "genre_influence", "genre_weight"]
    assert frame["rank"].tolist() == list(range(1, 11))
    assert frame["score"].is_monotonic_decreasing
    history = {recommender.maps.song.id_of(s) for s in recommender.scorer.history(recommender.user_index(user))}
    assert not history & set(frame["track_id"])
    assert frame["score"].to_numpy() == pytest.approx((frame["base_score"] + frame["genre_score"]).to_numpy())


def test_reranking_runs_no_forward_pass(recommender, user):
    recommender.recommend(user, k=10)
    passes = recommender.forward_passes
    lists = [tuple(recommender.recommend(user, k=k, genre_weight=w)["track_id"])
             for w in (0.0, 0.25, 0.5, 1.0, None) for k in (5, 20)]
    assert recommender.forward_passes == passes
    assert len(set(lists)) > 2  # the weights really change the ranking


def _oracle(rec, user: str, track: str, weight: float) -> dict[str, float]:
    """The score parts recomputed from the model's tensors and the graph's edges, without the service's code."""
    from recsys.graph import LISTENS, PREFERS, SONG_GENRE

    u, s = rec.user_index(user), rec.track_index(track)
    scale = float(rec.model.score_scale)
    listens = rec.graph[LISTENS].edge_index
    history = listens[1][listens[0] == u]
    z = rec.model.prepare(rec.graph)  # a fresh forward pass: its own embeddings, not the service's cache
    embedding = float(z.user_emb[u] @ z.song_emb[s]) / scale
    matrix = rec.model.item_item.matrix
    dense = matrix.to_dense() if matrix.layout != torch.strided else matrix
    item_item = rec.model.item_item_weight * float(dense[history, s].sum()) / scale  # B[i, j]: i played predicts j
    prefers, mix = rec.graph[PREFERS], rec.graph[SONG_GENRE]
    mine = torch.zeros(len(rec.maps.genre)).index_put_((prefers.edge_index[1][prefers.edge_index[0] == u],),
                                                       prefers.edge_weight[prefers.edge_index[0] == u])
    song = torch.zeros(len(rec.maps.genre)).index_put_((mix.edge_index[1][mix.edge_index[0] == s],),
                                                       mix.edge_weight[mix.edge_index[0] == s])
    influence = float(torch.nn.functional.cosine_similarity(mine, song, dim=0))
    return {"embedding_score": embedding, "item_item_score": item_item, "genre_influence": influence,
            "score": embedding + item_item + weight * influence}


def test_score_decomposition_matches_an_independent_recomputation(recommender, user):
    for weight in (None, 0.0, 0.3):
        row = recommender.recommend(user, k=3, genre_weight=weight).iloc[2]
        exp = recommender.explain(user, row["track_id"], genre_weight=weight)
        oracle = _oracle(recommender, user, row["track_id"], exp["genre_weight"])
        for key, value in oracle.items():
            assert exp[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
        assert exp["score"] == pytest.approx(row["score"], rel=1e-5)
        assert exp["rank"] == 3  # its place in the list ranked at the same weight
        assert sum(p["value"] for p in exp["parts"]) == pytest.approx(oracle["score"], rel=1e-4, abs=1e-5)
        details = exp["genre_influence_details"]
        assert sum(d["contribution"] for d in details["genre_details"]) == pytest.approx(oracle["genre_influence"],
                                                                                         abs=1e-5)
        json.dumps(exp)  # JSON-serialisable as promised


def test_service_scores_match_the_evaluation_scores(recommender):
    """The service's per-listener rows and the batch scoring that evaluation uses are two codes for one score."""
    users = recommender.search_users(limit=50)["user_id"].iloc[::10].tolist()
    index = torch.tensor([recommender.user_index(u) for u in users])
    batch = recommender.scorer.scores(index)
    for row in range(len(users)):
        listener = recommender.profiles.listener(int(index[row]))
        torch.testing.assert_close(recommender.ranker.scores(listener, listener.adaptive_weight), batch[row],
                                   rtol=1e-4, atol=1e-5)


def test_attention_in_explanation_is_the_models_own(recommender, user):
    track = recommender.recommend(user, k=1)["track_id"].iloc[0]
    exp = recommender.explain(user, track)
    model = recommender.model
    with torch.no_grad():
        _, attention = model(*model.full_inputs(recommender.graph), return_attention=True)
    checked = 0
    for block in exp["attention"]:
        edge_index, alpha = attention[block["layer"]][tuple(block["relation"])]
        for edge in block["edges"]:
            hit = (edge_index[0] == edge["source"]) & (edge_index[1] == block["target"])
            assert int(hit.sum()) == 1
            assert edge["per_head"] == pytest.approx(alpha[hit][0].tolist(), abs=1e-6)
            assert edge["weight"] == pytest.approx(float(alpha[hit][0].mean()), abs=1e-6)
            checked += 1
    assert checked >= 5 and {b["target_type"] for b in exp["attention"]} == {"user", "song"}


def test_counterfactual_removals_lower_the_score(recommender, user):
    track = recommender.recommend(user, k=1)["track_id"].iloc[0]
    exp = recommender.explain(user, track, counterfactual=True)
    items = exp["counterfactual"]["items"]
    assert items and items[0]["drop"] > 0
    # recompute the first one independently
    u, s = recommender.user_index(user), recommender.track_index(track)
    edited = without_listens(recommender.graph, u, [recommender.track_index(items[0]["track_id"])])
    scorer = recommender.model.prepare(edited)
    users = torch.tensor([u])
    again = float(scorer.base_scores(users)[0, s]) + exp["genre_weight"] * float(scorer.genre_scores(users)[0, s])
    assert again == pytest.approx(items[0]["score_without"], abs=1e-5)
    assert again < exp["score"]


def test_attention_subgraph_is_connected_and_holds_both_ends(recommender, user):
    track = recommender.recommend(user, k=1)["track_id"].iloc[0]
    graph = recommender.attention_subgraph(user, track, max_nodes=12)
    ids = {n["id"] for n in graph["nodes"]}
    assert f"user:{user}" in ids and f"song:{track}" in ids and len(ids) <= 12
    assert {n["type"] for n in graph["nodes"]} >= {"user", "song", "artist"}
    assert connected(graph)


def test_unknown_ids_are_named_with_close_matches(recommender, user):
    with pytest.raises(UnknownIdError, match=r"unknown user 'nobody'"):
        recommender.recommend("nobody")
    with pytest.raises(UnknownIdError, match="did you mean"):
        recommender.recommend(user[:-1] + "x")
    with pytest.raises(UnknownIdError, match="unknown track"):
        recommender.explain(user, "no-such-track")
    with pytest.raises(UnknownIdError, match="unknown genre"):
        recommender.recommend_for_genres(["Jaz"])


@pytest.mark.parametrize("k", [0, -5, 2.5, "3", True])
def test_bad_k(recommender, user, k):
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        recommender.recommend(user, k=k)


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan"), "abc"])
def test_bad_genre_weight(recommender, user, weight):
    with pytest.raises(ConfigError, match="genre_weight"):
        recommender.recommend(user, genre_weight=weight)


def test_k_larger_than_catalogue_is_clamped_with_a_note(recommender, user):
    frame = recommender.recommend(user, k=10**6)
    history = len(recommender.scorer.history(recommender.user_index(user)))
    assert len(frame) == len(recommender.maps.song) - history
    assert "exceeds" in frame.attrs["note"]


def test_cold_start_from_genres(recommender):
    genres = recommender.genres()[:2]
    frame = recommender.recommend_for_genres(genres, k=10)
    assert len(frame) == 10 and frame["score"].is_monotonic_decreasing
    assert all(isinstance(g, list) for g in frame["genres"])
    assert sum(bool(set(g) & set(genres)) for g in frame["genres"]) >= 8
    popular = recommender.recommend_for_genres([], k=5)
    assert popular.attrs["strategy"] == "popular songs"


def test_light_users_lean_more_on_genres(recommender):
    table = recommender.search_users(limit=10**6)
    active = table[table["interactions"] > 0]
    light, heavy = active["user_id"].iloc[-1], active["user_id"].iloc[0]
    assert recommender.user_profile(light)["adaptive_genre_weight"] > \
        recommender.user_profile(heavy)["adaptive_genre_weight"]


def test_profile_summarises_training_history(recommender, user):
    profile = recommender.user_profile(user)
    assert profile["interactions"] == len(recommender.scorer.history(recommender.user_index(user)))
    assert sum(g["share"] for g in profile["top_genres"]) <= 1 + 1e-6
    assert profile["top_artists"][0]["plays"] >= profile["top_artists"][-1]["plays"]


def test_threads_get_the_same_answers(recommender):
    users = recommender.users()[:16]
    expected = [tuple(recommender.recommend(u, k=5, genre_weight=0.2)["track_id"]) for u in users]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda u: tuple(recommender.recommend(u, k=5, genre_weight=0.2)["track_id"]), users))
    assert got == expected


def test_load_from_checkpoint_path(enhanced_run):
    rec = Recommender.load(enhanced_run.checkpoint)
    assert rec.model_card()["parameters"] == enhanced_run.model.num_parameters()
    assert rec.model_card()["history"] == enhanced_run.state.history


def test_track_and_adaptive_weight_lookups(recommender, user):
    track_id = recommender.recommend(user, k=1)["track_id"].iat[0]
    info = recommender.track(track_id)
    assert info["track_id"] == track_id and info["title"] and info["artist"]
    weight = recommender.adaptive_genre_weight(user)
    assert weight == recommender.recommend(user, k=1)["genre_weight"].iat[0]
    assert weight == recommender.user_profile(user)["adaptive_genre_weight"]


def test_sentence_never_calls_a_low_ranked_song_recommended(recommender, user):
    top = recommender.recommend(user, k=1)["track_id"].iat[0]
    assert "is recommended (#1)" in recommender.explain(user, top)["sentence"]
    bottom = recommender.recommend(user, k=10**6)["track_id"].iat[-1]
    text = recommender.explain(user, bottom)["sentence"]
    assert "is recommended" not in text and "not among the recommendations" in text
    heard = recommender.maps.song.id_of(recommender.scorer.history(recommender.user_index(user))[0])
    assert "already in" in recommender.explain(user, heard)["sentence"]
