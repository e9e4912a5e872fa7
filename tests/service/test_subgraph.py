"""The attention subgraph: built with the genre weight on screen, small by default, a focus mode of top paths."""

from __future__ import annotations

import math

import pytest

from recsys import ConfigError


@pytest.fixture(scope="module")
def pair(recommender) -> tuple[str, str]:
    user = str(recommender.search_users(limit=40)["user_id"].iloc[20])
    return user, recommender.recommend(user, k=1)["track_id"].iat[0]


def connected(graph) -> bool:
    ids = {n["id"] for n in graph["nodes"]}
    neighbours = {i: set() for i in ids}
    for e in graph["edges"]:
        assert e["source"] in ids and e["target"] in ids and math.isfinite(e["weight"])
        neighbours[e["source"]].add(e["target"])
        neighbours[e["target"]].add(e["source"])
    seen, frontier = {graph["user"]}, [graph["user"]]
    while frontier:
        for nxt in neighbours[frontier.pop()] - seen:
            seen.add(nxt)
            frontier.append(nxt)
    return seen == ids


@pytest.mark.parametrize("weight", [None, 0.0, 0.8])
def test_the_star_nodes_score_is_the_pages_score(recommender, pair, weight):
    user, track = pair
    graph = recommender.attention_subgraph(user, track, genre_weight=weight)
    score = recommender.explain(user, track, genre_weight=weight)["score"]
    link = next(e for e in graph["edges"] if e["relation"] == "recommended")
    assert link["weight"] == pytest.approx(score, rel=1e-6)
    candidate = next(n for n in graph["nodes"] if n["role"] == "candidate")
    assert f"score {score:.3f}" in candidate["title"]
    assert len(graph["nodes"]) <= 14 and connected(graph)


def test_focus_keeps_only_the_strongest_paths(recommender, pair):
    user, track = pair
    full = recommender.attention_subgraph(user, track, max_nodes=40)
    focus = recommender.attention_subgraph(user, track, max_nodes=40, focus=True)
    history = [n for n in focus["nodes"] if n["role"] == "history"]
    contributions = recommender.explain(user, track)["history_contributions"]
    expected = [f"song:{c['track_id']}" for c in contributions if c["total"] > 0][:5]
    assert [n["id"] for n in history] == expected
    assert len(focus["nodes"]) < len(full["nodes"]) and connected(focus)
    for node in focus["nodes"]:
        if node["type"] in ("artist", "genre"):  # only where a kept path runs through them
            assert sum(node["id"] in (e["source"], e["target"]) for e in focus["edges"]) >= 2


def test_bad_sizes_are_refused(recommender, pair):
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ConfigError, match="max_nodes"):
            recommender.attention_subgraph(*pair, max_nodes=bad)
