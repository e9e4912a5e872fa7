"""Fold-in: a listening history as a listener of the trained model, checked against the model's own propagation."""

from __future__ import annotations

import json

import pytest
import torch

from recsys.errors import ConfigError, UnknownIdError
from recsys.models import Adjacency, build_adjacencies

INTO_USER = (("song", "rev_listens", "user"), ("genre", "rev_prefers", "user"))


@pytest.fixture(scope="module")
def users(recommender) -> list[str]:
    table = recommender.search_users(limit=10**6)
    return table[table["interactions"] >= 5]["user_id"].iloc[::7].tolist()[:12]


def _history(rec, user: str) -> list[tuple[str, float]]:
    frame = rec.user_history(user)
    return list(zip(frame["track_id"], frame["plays"].astype(float), strict=True))


def test_fold_in_is_the_models_propagation_of_one_more_node(recommender, users):
    """Oracle: `model.propagate` over the training graph plus the new node gives the same z. The node only reads:
    its edges point into it, each normalised by 1/sqrt(its degree x the source's degree with this edge), and
    the training edges keep their normalisation."""
    rec, model = recommender, recommender.model
    listener = rec.folding.listener(_history(rec, users[0]), steps=0)
    x_dict, edges, _ = model.full_inputs(rec.graph)
    with torch.no_grad():
        h = {t: model.ego(t, x) for t, x in x_dict.items()}
        new = len(rec.maps.user)
        h["user"] = torch.cat([h["user"], model.ego("song", listener.history).mean(0, keepdim=True)])
        num_nodes = {t: x.size(0) for t, x in h.items()}
        adjs = build_adjacencies(edges, {**num_nodes, "user": new}, None, model.edge_types)
        sources = {"song": listener.history, "genre": listener.genres}
        for relation in INTO_USER:
            if relation in adjs:
                trained, src = adjs[relation], sources[relation[0]]
                norm = torch.empty_like(trained.norm)
                norm[trained.perm] = trained.norm  # back to the caller's edge order
                degree = torch.bincount(edges[relation][0], minlength=trained.num_src)[src] + 1.0
                index = torch.cat([edges[relation], torch.stack([src, torch.full_like(src, new)])], dim=1)
                adjs[relation] = Adjacency.build(index, trained.num_src, new + 1,
                                                 norm=torch.cat([norm, (len(src) * degree).rsqrt()]))
        for relation in adjs:
            if relation[0] == "user":  # relations out of users: the new node sends nothing (CSR order kept)
                adjs[relation] = Adjacency.build(adjs[relation].edge_index, new + 1, adjs[relation].num_dst,
                                                 norm=adjs[relation].norm)
        model.eval()
        z = model.propagate(h, adjs)["user"][new]
    torch.testing.assert_close(listener.vector, z, rtol=1e-4, atol=1e-5)


def test_folding_in_a_trained_history_agrees_with_the_trained_listener(recommender, users):
    """The top 10 of a trained listener and of their folded-in training history mostly agree (measured 0.8-0.9)."""
    overlaps = []
    for user in users:
        trained = set(recommender.recommend(user, k=10)["track_id"])
        folded = set(recommender.recommend_for_history(_history(recommender, user), k=10)["track_id"])
        overlaps.append(len(trained & folded) / 10)
    assert sum(overlaps) / len(overlaps) >= 0.6, overlaps


def test_same_frame_and_explanation_as_a_trained_listener(recommender, users):
    user = users[1]
    history = _history(recommender, user)
    trained, folded = recommender.recommend(user, k=5), recommender.recommend_for_history(history, k=5)
    assert list(folded.columns) == list(trained.columns)
    assert not set(folded["track_id"]) & {t for t, _ in history}
    track = folded["track_id"].iat[0]
    exp, reference = recommender.explain_for_history(history, track), recommender.explain(user, track)
    assert exp.keys() == reference.keys() and exp["folded_in"] and not reference["folded_in"]
    assert exp["rank"] == 1 and exp["score"] == pytest.approx(folded["score"].iat[0], rel=1e-5)
    assert sum(p["value"] for p in exp["parts"]) == pytest.approx(exp["score"], abs=1e-6)
    assert {b["target_type"] for b in exp["attention"]} == {"user", "song"}
    json.dumps(exp)


def test_removing_a_song_re_folds_the_history(recommender, users):
    history = _history(recommender, users[2])
    track = recommender.recommend_for_history(history, k=1)["track_id"].iat[0]
    exp = recommender.explain_for_history(history, track, counterfactual=True)
    top = exp["counterfactual"]["items"][0]
    without = [(t, p) for t, p in history if t != top["track_id"]]
    again = recommender.explain_for_history(without, track, genre_weight=exp["genre_weight"])["score"]
    assert again == pytest.approx(top["score_without"], abs=1e-5)


def test_a_plain_list_of_ids_counts_one_play_each(recommender, users):
    ids = [t for t, _ in _history(recommender, users[3])]
    assert recommender.recommend_for_history(ids, k=5).equals(
        recommender.recommend_for_history([(t, 1) for t in ids], k=5))


def test_unknown_ids_are_all_named_with_close_matches(recommender, users):
    known = [t for t, _ in _history(recommender, users[0])][:3]
    typo = known[0][:-1] + ("x" if known[0][-1] != "x" else "y")
    with pytest.raises(UnknownIdError, match=rf"2 unknown track IDs: '{typo}' \(did you mean .*'nope'"):
        recommender.recommend_for_history([*known, typo, "nope"])


@pytest.mark.parametrize("history", ["t1", [("t1", -1)], [("t1", 2, 3)], [None], [("t1", float("nan"))]])
def test_malformed_histories_are_refused(recommender, history):
    with pytest.raises(ConfigError, match="history"):
        recommender.recommend_for_history(history)


def test_an_empty_history_gets_the_popular_songs(recommender):
    frame = recommender.recommend_for_history([], k=5)
    assert frame.attrs["strategy"].startswith("no listening history")
    listeners = recommender.library.listeners
    assert [int(listeners[recommender.track_index(t)]) for t in frame["track_id"]] == \
        sorted(listeners.tolist(), reverse=True)[:5]


def test_attention_subgraph_for_history_holds_the_listener_and_the_song(recommender, users):
    history = _history(recommender, users[4])
    track = recommender.recommend_for_history(history, k=1)["track_id"].iat[0]
    graph = recommender.attention_subgraph_for_history(history, track, max_nodes=10)
    ids = {n["id"] for n in graph["nodes"]}
    assert graph["user"] in ids and graph["track"] in ids and len(ids) <= 10
    assert any(n["role"] == "history" for n in graph["nodes"])


def test_warm_up_runs_the_first_fold_in_and_explanation_passes_ahead(enhanced_run, users):
    """After `warm_up` (the dashboard calls it when it loads a model), a first fold-in and its explanation run
    no forward pass of their own; without it the first fold-in runs one."""
    from recsys import Recommender

    cold = Recommender.load(enhanced_run.checkpoint)
    before = cold.forward_passes
    cold.recommend_for_history(_history(cold, users[0]), k=5)
    assert cold.forward_passes == before + 1
    warm = Recommender.load(enhanced_run.checkpoint)
    warm.warm_up()
    passes = warm.forward_passes
    history = _history(warm, users[0])
    track = warm.recommend_for_history(history, k=1)["track_id"].iat[0]
    warm.explain_for_history(history, track)
    assert warm.forward_passes == passes
