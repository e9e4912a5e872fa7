"""Catalogue, genre hierarchy, training history, genre drift and recent taste."""

from __future__ import annotations

import math

import pytest

from recsys import ConfigError, UnknownIdError


@pytest.fixture(scope="module")
def user(recommender) -> str:
    return str(recommender.search_users(limit=40)["user_id"].iloc[5])


def test_genre_parent_is_the_top_level_ancestor(recommender):
    table = recommender.dataset.genres.set_index("genre")["parent"]
    for genre in recommender.genres():
        expected, seen = genre, 0
        while isinstance(table.get(expected), str) and table[expected] and seen < 10:
            expected, seen = table[expected], seen + 1
        assert recommender.genre_parent(genre) == (None if expected == genre else expected)
    assert any(recommender.genre_parent(g) for g in recommender.genres())
    with pytest.raises(UnknownIdError, match="unknown genre"):
        recommender.genre_parent("Nope")


def test_genre_distribution_rolls_up_without_losing_plays(recommender):
    flat, rolled = recommender.genre_distribution(), recommender.genre_distribution(rollup=True)
    assert rolled["plays"].sum() == pytest.approx(flat["plays"].sum(), rel=1e-5)
    assert all(recommender.genre_parent(g) is None for g in rolled["genre"])
    assert len(rolled) < len(flat) and rolled["plays"].is_monotonic_decreasing


def test_catalogue_lists_every_track_with_genre_lists(recommender):
    frame = recommender.catalogue()
    assert list(frame.columns) == ["track_id", "title", "artist", "genres"]
    assert frame["track_id"].tolist() == [str(t) for t in recommender.maps.song.ids]
    assert all(isinstance(g, list) for g in frame["genres"])


def test_the_importers_catalogue_is_the_services(recommender):
    """`import-history` builds the catalogue from the dataset tables (no torch); it must match the model's."""
    from recsys.data.exports import catalogue_from_dataset

    expected = recommender.catalogue()
    got = catalogue_from_dataset(recommender.dataset)
    assert got["track_id"].astype(str).tolist() == expected["track_id"].tolist()
    assert got["title"].astype(str).tolist() == expected["title"].tolist()
    assert got["artist"].astype(str).tolist() == expected["artist"].tolist()
    assert [sorted(g) for g in got["genres"]] == [sorted(g) for g in expected["genres"]]


def test_user_history_is_the_training_history(recommender, user):
    frame = recommender.user_history(user)
    assert list(frame.columns) == ["track_id", "title", "artist", "genres", "plays"]
    expected = {recommender.maps.song.id_of(s) for s in recommender.scorer.history(recommender.user_index(user))}
    assert set(frame["track_id"]) == expected and frame["plays"].is_monotonic_decreasing


def test_genre_drift_shares_sum_to_one_per_month(recommender, user):
    drift = recommender.genre_drift(user)
    assert list(drift.columns) == ["period", "genre", "share"] and len(drift)
    assert drift.groupby("period")["share"].sum().to_numpy() == pytest.approx(1.0)
    assert (drift["period"].dt.day == 1).all()
    rolled = recommender.genre_drift(user, rollup=True)
    assert all(recommender.genre_parent(g) is None for g in rolled["genre"])
    weekly = recommender.genre_drift(user, freq="W")
    assert weekly["period"].nunique() >= drift["period"].nunique()
    with pytest.raises(ConfigError, match="freq"):
        recommender.genre_drift(user, freq="fortnightly")


def test_drift_weights_a_songs_plays_by_its_genre_mix(recommender, user):
    """Overall shares of the monthly table, re-weighted by plays per month, give the user's genre shares."""
    drift = recommender.genre_drift(user, freq="100YS")  # one period: the whole history
    profile = {g["genre"]: g["share"] for g in recommender.user_profile(user, top=100)["top_genres"]}
    assert dict(zip(drift["genre"], drift["share"], strict=True)) == pytest.approx(profile, abs=1e-5)


def test_training_rows_end_before_the_held_out_period(recommender):
    """The rows profiles read (recency weights, drift) never carry a play at or after the user's first held-out
    play: generated data replays training songs later, which the stored last_ts records."""
    inter, train = recommender.profiles.interactions, recommender.profiles.train
    held = inter[inter["split"] != "train"].groupby("user_id")["first_ts"].min()
    cutoff = train["user_id"].map(held)
    assert ((train["last_ts"] <= cutoff) | cutoff.isna()).all()  # a first play may tie with the held-out one
    assert (inter.loc[train.index, "last_ts"] > cutoff).any()  # the raw column would have leaked


def test_recent_taste_weights_each_play_by_its_recency(recommender, user):
    """Oracle: plays x 0.5 ** (days before the latest play / half-life), spread over each song's genre mix."""
    profiles, index = recommender.profiles, recommender.user_index(user)
    rows = profiles.rows(index)
    age = (rows["last_ts"].max() - rows["last_ts"]).dt.total_seconds() / 86_400
    weights = rows["plays"].to_numpy() * 0.5 ** (age.to_numpy() / 3.0)
    expected: dict[str, float] = {}
    for track, weight in zip(rows["track_id"], weights, strict=True):
        for genre, strength in recommender.library.mix[recommender.track_index(track)]:
            name = recommender.maps.genre.name_of(genre)
            expected[name] = expected.get(name, 0.0) + weight * strength
    total = sum(expected.values())
    genres, recent = profiles.recent_shares(index, half_life_days=3.0)
    got = {recommender.maps.genre.name_of(g): v for g, v in zip(genres.tolist(), recent.tolist(), strict=True)}
    assert got == pytest.approx({g: v / total for g, v in expected.items()}, abs=1e-5)
    _, long = profiles.recent_shares(index, half_life_days=1e9)  # no decay: the plain shares
    assert long.tolist() == pytest.approx(profiles.shares(index)[1].tolist(), abs=1e-5)
    assert not recommender.recommend(user, k=20, half_life_days=0.5).equals(recommender.recommend(user, k=20))
    for bad in (0, -1, math.nan, "7"):
        with pytest.raises(ConfigError, match="half_life_days"):
            recommender.recommend(user, half_life_days=bad)


def test_profile_top_genres_carry_parents(recommender, user):
    for genre in recommender.user_profile(user)["top_genres"]:
        assert genre["parent"] == recommender.genre_parent(genre["genre"])
