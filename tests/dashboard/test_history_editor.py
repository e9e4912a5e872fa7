"""What-if editing on Recommendations and Why this song?: removing and adding songs goes through the fold-in API,
shows an "edited" badge, lives in the URL (a link reproduces it), and resets; impossible edits are reported."""

from __future__ import annotations

import pytest
from apptest_helpers import assert_clean, texts

from dashboard import state


@pytest.fixture(scope="module")
def rec(enhanced_run):
    from recsys import Recommender

    return Recommender.load(enhanced_run.checkpoint)


def _titles(at) -> list[str]:
    """The titles of the page's recommendation list (the last table with ranks)."""
    return next(d.value for d in reversed(at.dataframe) if "rank" in d.value.columns)["title"].tolist()


def _badge(at) -> list[str]:
    return [m for m in texts(at, "markdown") if "badge[" in m]


def _expected(rec, user: str, add: list[str], drop: list[str]) -> list[tuple[str, float]]:
    """The edited history as the editor builds it: kept songs with their plays, added ones at the median."""
    base = rec.user_history(user)
    kept = base[~base["track_id"].isin(drop)]
    weight = float(max(1.0, base["plays"].median()))
    return [*zip(kept["track_id"], kept["plays"].astype(float), strict=True), *((t, weight) for t in add)]


def _unheard(rec, user: str, n: int) -> list[str]:
    heard = set(rec.user_history(user)["track_id"])
    return [t for t in rec.search_tracks("", limit=n + len(heard))["track_id"] if t not in heard][:n]


def test_removing_songs_folds_in_the_edit_and_puts_it_in_the_url(app_factory, rec, users):
    user = users[2]
    at = app_factory("recommendations", user=user)
    assert_clean(at)
    assert not _badge(at)
    real = _titles(at)
    top = rec.user_history(user)["track_id"].tolist()[:3]
    at.multiselect(key="w.drop").set_value(top).run()
    assert_clean(at)
    assert at.query_params["drop"] == ",".join(top) and at.query_params["user"] == user
    assert _badge(at) and "3 removed" in _badge(at)[0]
    edited = _titles(at)
    assert edited != real
    expected = rec.recommend_for_history(_expected(rec, user, [], top), 10)["title"].tolist()
    assert edited == expected
    songs = next(m for m in at.metric if m.label == "Songs")
    assert songs.value == f"{len(rec.user_history(user)) - 3:,}"


def test_adding_songs_through_the_search(app_factory, rec, users):
    user = users[4]
    at = app_factory("recommendations", user=user)
    new = _unheard(rec, user, 2)
    for chosen in (new[:1], new):  # search each song, add it; the songs added before stay chosen
        at.text_input(key="w.add_query").set_value(chosen[-1]).run()
        at.multiselect(key="w.add").set_value(chosen).run()
    assert_clean(at)
    assert at.query_params["add"] == ",".join(new)
    assert _titles(at) == rec.recommend_for_history(_expected(rec, user, new, []),
                                                                           10)["title"].tolist()


def test_a_link_reproduces_the_edit_and_reset_restores_the_listener(app_factory, rec, users):
    user = users[1]
    add, drop = _unheard(rec, user, 1), rec.user_history(user)["track_id"].tolist()[:2]
    at = app_factory("recommendations", user=user, add=",".join(add), drop=",".join(drop), k="5")
    assert_clean(at)
    assert at.multiselect(key="w.drop").value == drop and at.multiselect(key="w.add").value == add
    assert _titles(at) == rec.recommend_for_history(_expected(rec, user, add, drop),
                                                                           5)["title"].tolist()
    at.button(key="w.edit_reset").click().run()
    assert_clean(at)
    assert "add" not in at.query_params and "drop" not in at.query_params and not _badge(at)
    assert _titles(at) == rec.recommend(user, 5)["title"].tolist()


def test_choosing_another_listener_drops_the_edit(app_factory, rec, users):
    at = app_factory("recommendations", user=users[1], drop=rec.user_history(users[1])["track_id"].iat[0])
    assert _badge(at)
    at.selectbox(key="w.user").set_value(users[0]).run()
    assert_clean(at)
    assert not _badge(at) and "drop" not in at.query_params
    assert _titles(at) == rec.recommend(users[0], 10)["title"].tolist()


def test_impossible_edits_in_a_link_are_reported_and_ignored(app_factory, rec, users):
    user = users[1]
    stranger = _unheard(rec, user, 1)[0]  # never played by this listener: cannot be removed
    at = app_factory("recommendations", user=user, add="no-such-song,<b>x</b>", drop=stranger)
    assert not at.exception and not at.error
    warnings = texts(at, "warning")
    assert any("2 unknown song ID(s)" in w and "<b>x</b>" in w for w in warnings), warnings
    assert any("never played" in w for w in warnings), warnings
    assert not _badge(at) and "add" not in at.query_params
    assert _titles(at) == rec.recommend(user, 10)["title"].tolist()


def test_explanation_follows_the_edited_history(app_factory, rec, users):
    user = users[2]
    drop = rec.user_history(user)["track_id"].tolist()[:5]
    history = _expected(rec, user, [], drop)
    at = app_factory("explanation", user=user, drop=",".join(drop))
    assert_clean(at)
    assert _badge(at)
    track = at.selectbox(key="w.track").value
    assert track == rec.recommend_for_history(history, 10)["track_id"].iat[0]  # the edited listener's top song
    expected = rec.explain_for_history(history, track)
    assert any(expected["sentence"] in i for i in texts(at, "info"))
    assert at.query_params["drop"] == ",".join(drop) and at.query_params["track"] == track


def test_edit_lists_round_trip_through_the_url_with_commas_and_percent_signs():
    ids = ("t1", "a,b", "50%", "x%2Cy", "<b>")
    assert state.parse_ids(state.format_ids(ids)) == ids
    assert state.format_ids(("t1", "t2")) == "t1,t2"  # plain IDs stay readable
    assert state.parse_ids("t1,,t1, t2") == ("t1", " t2")
    with pytest.raises(ValueError, match="at most"):
        state.parse_ids(",".join(f"t{i}" for i in range(state.MAX_EDITS + 1)))
