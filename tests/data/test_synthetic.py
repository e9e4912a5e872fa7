"""The synthetic generator: determinism, format, and each structural property measured on generated data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.cli.main import main
from recsys.data import load_dataset
from recsys.data.split import temporal_split
from recsys.data.synthetic import START, SyntheticConfig, UserType, generate, truth_path
from recsys.errors import ConfigError

TABLE_FILES = {"interactions", "tracks", "artists", "artist_genres", "genres", "users"}
SMALL = {"users": 300, "songs": 1500, "artists": 150, "seed": 7}  # ~60K plays: fast, yet tight statistics
SESSION_BREAK_S = 600  # within a session plays follow within seconds; sessions are >= 30 min apart


class Generated:
    """One generated dataset with its tables, truth and plays in per-user time order."""

    def __init__(self, out: Path, summary: dict, config: SyntheticConfig | None = None) -> None:
        self.out, self.summary = out, summary
        self.tables = {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLE_FILES}
        self.truth = json.loads(truth_path(out).read_text(encoding="utf-8"))
        self.config = config or SyntheticConfig()
        tracks = self.tables["tracks"].set_index("track_id")
        plays = self.tables["interactions"].sort_values(["user_id", "timestamp"], kind="stable")
        self.plays = plays.assign(artist_id=tracks["artist_id"].reindex(plays["track_id"]).to_numpy(),
                                  duration_ms=tracks["duration_ms"].reindex(plays["track_id"]).to_numpy())

    def within_session(self) -> np.ndarray:
        """For each play after the first: does it follow the previous play in the same session?"""
        p = self.plays
        same_user = p["user_id"].to_numpy()[1:] == p["user_id"].to_numpy()[:-1]
        ends = p["timestamp"].to_numpy()[:-1] + p["ms_played"].to_numpy()[:-1] / 1000
        return same_user & (p["timestamp"].to_numpy()[1:] - ends < SESSION_BREAK_S)

    def preferred(self, user_ids: pd.Series, artist_ids: pd.Series) -> np.ndarray:
        """Per (user, artist): is the artist in one of the user's preferred genres (from the truth)?"""
        genres = self.tables["artist_genres"].groupby("artist_id")["genre"].agg(frozenset)
        wanted = {u: frozenset(v["preferred_genres"]) for u, v in self.truth["users"].items()}
        artist_genres = genres.reindex(artist_ids).to_numpy()
        return np.array([bool(a & wanted[u]) for u, a in zip(user_ids, artist_genres, strict=True)])


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    out = tmp_path_factory.mktemp("syn") / "small"
    return Generated(out, generate(out, **SMALL))


def gini(values: np.ndarray) -> float:
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def file_bytes(out: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    return {**files, "truth": truth_path(out).read_bytes()}


# ---------------------------------------------------------------------------------------------- format


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    scale = {"users": 60, "songs": 400, "artists": 40}
    for fmt in ("parquet", "csv"):
        a = file_bytes(generate(tmp_path / f"a_{fmt}", seed=3, fmt=fmt, **scale)["path"])
        b = file_bytes(generate(tmp_path / f"b_{fmt}", seed=3, fmt=fmt, **scale)["path"])
        c = file_bytes(generate(tmp_path / f"c_{fmt}", seed=4, fmt=fmt, **scale)["path"])
        assert len(a) == 7 and a == b
        assert a[f"interactions.{fmt}"] != c[f"interactions.{fmt}"]
        assert a[f"tracks.{fmt}"] != c[f"tracks.{fmt}"] and a["truth"] != c["truth"]


def test_loads_through_load_dataset_with_matching_counts(small: Generated, tmp_path: Path) -> None:
    dataset = load_dataset(small.out)
    assert dataset.summary() == {"users": 300, "tracks": 1500, "artists": 150, "genres": 35,
                                 "interactions": small.summary["pairs"], "plays": small.summary["interactions"]}
    assert dataset.has_genres and dataset.has_timestamps
    assert set(dataset.song_genres()["track_id"]) == set(dataset.tracks["track_id"])  # songs inherit genres
    csv = generate(tmp_path / "csv", fmt="csv", **SMALL)["path"]
    assert sorted(p.suffix for p in csv.iterdir()) == [".csv"] * 6
    assert load_dataset(csv).fingerprint == dataset.fingerprint  # the same content in either format


def test_ids_names_and_timestamps_look_real(small: Generated) -> None:
    t = small.tables
    assert t["users"]["user_id"].str.fullmatch(r"u\d{4}").all()
    assert t["tracks"]["track_id"].str.fullmatch(r"t\d{4}").all() and t["tracks"]["track_id"].is_unique
    assert t["artists"]["artist_id"].str.fullmatch(r"a\d{4}").all()
    names = pd.concat([t["tracks"]["title"], t["artists"]["name"]])
    assert names.str.fullmatch(r"[^\W\d_]+(['&]?[ ]?[^\W\d_&]*)*").all() and (names.str.len() >= 2).all()
    assert names.str.contains(r"[^\x00-\x7f]").sum() >= 5
    assert names.str.contains("'").sum() >= 5 and names.str.contains("&").sum() >= 5
    assert names.nunique() > 0.9 * len(names)
    ts = t["interactions"]["timestamp"]
    assert ts.dtype == np.int64 and ts.min() >= START and ts.max() < START + 30 * 86_400
    assert ts.is_monotonic_increasing  # a listening log in time order


def test_truth_file_is_beside_the_folder_and_never_inside(small: Generated) -> None:
    assert truth_path(small.out) == small.out.parent / "small.truth.json" == small.summary["truth"]
    assert {p.name for p in small.out.iterdir()} == {f"{name}.parquet" for name in TABLE_FILES}
    truth = small.truth
    assert truth["seed"] == SMALL["seed"] and truth["config"]["p_same_artist"] == small.config.p_same_artist
    assert set(truth["users"]) == set(small.tables["users"]["user_id"])
    genres = set(small.tables["genres"]["genre"])
    for user in truth["users"].values():
        assert set(user["preferred_genres"]) <= genres
        assert sum(user["preferred_genres"].values()) == pytest.approx(1, abs=1e-3)
    types = small.tables["users"].set_index("user_id")["user_type"]
    assert all(types[u] == v["type"] for u, v in truth["users"].items())


# ---------------------------------------------------------------------------------------------- structure


def test_genres_are_named_hierarchical_and_zipf(small: Generated) -> None:
    genres = small.tables["genres"]
    assert len(genres) == 35
    assert {"Rock", "Pop", "Hip-Hop", "Jazz", "Blues", "Electronic", "Classical", "Metal", "Folk", "Country", "R&B",
            "Reggae", "Punk", "Soul", "Funk", "Indie", "Alternative Rock"} <= set(genres["genre"])
    parents = genres.set_index("genre")["parent"]
    assert parents["Alternative Rock"] == "Rock" and parents["Grunge"] == "Alternative Rock"
    assert (parents != "").sum() >= 10 and set(parents[parents != ""]) <= set(genres["genre"])
    ranked = np.sort(genres["popularity"].to_numpy())[::-1]
    slope = np.polyfit(np.log(np.arange(1, 36)), np.log(ranked), 1)[0]
    assert slope == pytest.approx(-small.config.genre_zipf, abs=0.02)
    # plays follow: rank-frequency of plays per artist's main genre is steep as well
    main = small.tables["artist_genres"].sort_values("weight", ascending=False).drop_duplicates("artist_id")
    per_genre = small.plays["artist_id"].map(main.set_index("artist_id")["genre"]).value_counts().to_numpy()
    assert np.polyfit(np.log(np.arange(1, len(per_genre) + 1)), np.log(per_genre), 1)[0] < -0.7


def test_artists_have_one_to_three_genres(small: Generated) -> None:
    artist_genres = small.tables["artist_genres"]
    counts = artist_genres.groupby("artist_id").size()
    assert len(counts) == 150 and set(counts) == {1, 2, 3}
    assert counts.mean() == pytest.approx(1.65, abs=0.2)  # P(1, 2, 3) = 0.5, 0.35, 0.15
    assert (artist_genres["weight"] > 0).all()
    assert artist_genres.groupby("artist_id")["weight"].sum().to_numpy() == pytest.approx(1, abs=0.002)


def test_hour_of_day_has_an_evening_peak(small: Generated) -> None:
    hours = np.bincount(pd.to_datetime(small.plays["timestamp"], unit="s").dt.hour, minlength=24)
    assert 18 <= hours.argmax() <= 22
    assert hours.max() / hours.min() > 5
    expected = hours.sum() / 24
    assert ((hours - expected) ** 2 / expected).sum() > 1000  # chi-square vs flat; 23 dof: 1% level is 41.6


def test_weekends_differ_from_weekdays(small: Generated) -> None:
    when = pd.to_datetime(small.plays["timestamp"], unit="s")
    weekend = (when.dt.day_of_week >= 5).to_numpy()
    by_hour = {w: np.bincount(when.dt.hour[weekend == w], minlength=24) / (weekend == w).sum() for w in (0, 1)}
    assert 0.5 * np.abs(by_hour[1] - by_hour[0]).sum() > 0.08
    assert by_hour[0][7:10].sum() > 1.5 * by_hour[1][7:10].sum()  # the weekday commute
    assert by_hour[1][0:3].sum() > 1.5 * by_hour[0][0:3].sum()  # weekend nights
    n_weekend_days = 8  # 30 days from Monday 2024-01-01
    assert (weekend.sum() / n_weekend_days) / ((~weekend).sum() / (30 - n_weekend_days)) > 1.1


def test_sessions_continue_the_same_artist_at_the_configured_rate(small: Generated, tmp_path: Path) -> None:
    """By construction only `p_same_artist` steps keep the artist (replays and fresh picks are redrawn)."""
    within = small.within_session()
    artists = small.plays["artist_id"].to_numpy()
    rate = (artists[1:] == artists[:-1])[within].mean()
    assert within.sum() > 20_000
    assert rate == pytest.approx(small.config.p_same_artist, abs=0.015)
    gaps = small.plays["timestamp"].to_numpy()[1:] - small.plays["timestamp"].to_numpy()[:-1]
    same_user = small.plays["user_id"].to_numpy()[1:] == small.plays["user_id"].to_numpy()[:-1]
    assert gaps[same_user & ~within].min() >= small.config.session_gap_s

    config = SyntheticConfig(p_same_artist=0.6)
    summary = generate(tmp_path / "sticky", **{**SMALL, "users": 150}, config=config)
    other = Generated(tmp_path / "sticky", summary, config)
    artists = other.plays["artist_id"].to_numpy()
    assert (artists[1:] == artists[:-1])[other.within_session()].mean() == pytest.approx(config.p_same_artist, abs=0.02)


def test_preferred_genre_plays_dominate(small: Generated) -> None:
    share = small.preferred(small.plays["user_id"], small.plays["artist_id"]).mean()
    assert share > small.config.p_preferred_genre - 0.05
    users = small.plays["user_id"].unique()
    stranger = dict(zip(users, np.random.default_rng(0).permutation(users), strict=True))
    assert share > 2.5 * small.preferred(small.plays["user_id"].map(stranger), small.plays["artist_id"]).mean()


def test_plays_are_heavy_tailed_per_song_and_per_user(small: Generated) -> None:
    per_song = small.plays["track_id"].value_counts().reindex(small.tables["tracks"]["track_id"], fill_value=0)
    top = np.sort(per_song.to_numpy())[::-1]
    assert top[: len(top) // 10].sum() / top.sum() > 0.4
    assert gini(per_song) > 0.55
    assert (per_song > 0).mean() > 0.8  # the catalogue is mostly covered
    per_user = small.plays["user_id"].value_counts()
    assert gini(per_user) > 0.45 and per_user.max() > 10 * per_user.median()


def test_user_types_differ_in_activity_and_breadth(small: Generated) -> None:
    per_user = small.plays["user_id"].value_counts()
    kind = small.tables["users"].set_index("user_id")["user_type"]
    median = per_user.groupby(kind.reindex(per_user.index)).median()
    assert median["power"] > 1.5 * median["regular"] > 1.5 * 1.5 * median["casual"]
    n_genres = pd.DataFrame([(v["type"], len(v["preferred_genres"])) for v in small.truth["users"].values()],
                            columns=["type", "n"]).groupby("type")["n"]
    for t in small.config.user_types:
        assert n_genres.min()[t.name] >= t.min_genres and n_genres.max()[t.name] <= t.max_genres
    means = n_genres.mean()
    assert means["casual"] < means["regular"] < means["power"]


def test_skips_and_partial_plays_never_exceed_the_duration(small: Generated) -> None:
    played, duration = small.plays["ms_played"].to_numpy(), small.plays["duration_ms"].to_numpy()
    assert (played <= duration).all() and (played >= 1000).all()
    skipped = played <= small.config.skip_max_s * 1000
    assert 0.08 < skipped.mean() < 0.3
    partial = ~skipped & (played < duration)
    assert 0.05 < partial.mean() < 0.15
    assert (played == duration).mean() > 0.6


def test_collaborative_signal_beyond_popularity_and_genre(small: Generated) -> None:
    """Under the per-user temporal split, co-listening predicts the held-out new songs far better than
    popularity, and users of one taste cluster share artists more than users who only share a top genre."""
    dataset = load_dataset(small.out)
    pairs = dataset.interactions.assign(split=temporal_split(dataset.interactions))
    users = {u: i for i, u in enumerate(dataset.users["user_id"])}
    tracks = {t: i for i, t in enumerate(dataset.tracks["track_id"])}
    matrix = {label: np.zeros((len(users), len(tracks))) for label in ("train", "test")}
    for label, part in pairs.assign(split=pairs["split"].replace("valid", "train")).groupby("split"):
        matrix[label][part["user_id"].map(users), part["track_id"].map(tracks)] = 1
    train, test = matrix["train"], matrix["test"]
    popularity = train.sum(axis=0)
    cooccurrence = train.T @ train / np.sqrt(np.outer(popularity, popularity) + 1e-9)
    np.fill_diagonal(cooccurrence, 0)

    def recall_at_20(scores: np.ndarray) -> float:
        scores = np.where(train > 0, -np.inf, scores)
        top = np.argsort(-scores, axis=1)[:, :20]
        hits, wanted = np.take_along_axis(test, top, axis=1).sum(axis=1), test.sum(axis=1)
        return float((hits[wanted > 0] / np.minimum(wanted[wanted > 0], 20)).mean())

    by_popularity = recall_at_20(np.tile(popularity, (len(users), 1)))
    by_items = recall_at_20(train @ cooccurrence)
    assert by_items > 2.5 * by_popularity and by_items > 0.12

    truth = small.truth["users"]
    artist_sets = small.plays.groupby("user_id")["artist_id"].agg(frozenset)
    top_genre = {u: next(iter(v["preferred_genres"])) for u, v in truth.items()}
    overlap: dict[bool, list[float]] = {True: [], False: []}
    ids = list(artist_sets.index)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if top_genre[a] == top_genre[b]:
                jaccard = len(artist_sets[a] & artist_sets[b]) / len(artist_sets[a] | artist_sets[b])
                overlap[truth[a]["taste_cluster"] == truth[b]["taste_cluster"]].append(jaccard)
    assert len(overlap[True]) > 50 and np.mean(overlap[True]) > 1.2 * np.mean(overlap[False])


def test_users_keep_discovering_liked_songs(small: Generated) -> None:
    """First listens go on all month and the late ones are still mostly in the user's preferred genres."""
    firsts = small.plays.drop_duplicates(["user_id", "track_id"])
    first_day = (firsts["timestamp"] - START) // 86_400
    assert (first_day >= 20).mean() > 0.2  # not all discovered in the first days
    late = firsts[first_day >= 20]
    stranger = late["user_id"].map(dict(zip(small.truth["users"], reversed(small.truth["users"]), strict=True)))
    share = small.preferred(late["user_id"], late["artist_id"]).mean()
    assert share > 0.6 and share > 2 * small.preferred(stranger, late["artist_id"]).mean()


def test_default_scale_is_fast_and_sized_as_documented(tmp_path: Path) -> None:
    summary = generate(tmp_path / "default")
    assert summary["seconds"] < 10
    assert 60 <= summary["pairs"] / summary["users"] <= 120
    assert 1.5 <= summary["interactions"] / summary["pairs"] <= 4
    played = pd.read_parquet(tmp_path / "default" / "interactions.parquet", columns=["track_id"])["track_id"]
    assert played.nunique() > 0.9 * summary["tracks"]


# ---------------------------------------------------------------------------------------------- arguments, files, CLI


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"users": 0}, "users must be a positive integer"),
    ({"songs": -5}, "songs must be a positive integer"),
    ({"artists": 2.5}, "artists must be a positive integer"),
    ({"genres": 0}, "genres must be a positive integer"),
    ({"days": 0}, "days must be a positive integer"),
    ({"days": 100_000}, "must not reach into the future"),
    ({"songs": 10, "artists": 11}, r"artists \(11\) must not exceed songs \(10\)"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"fmt": "xlsx"}, "fmt must be 'parquet' or 'csv'"),
])
def test_bad_arguments_raise_config_error(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate(tmp_path / "bad", **kwargs)
    assert not (tmp_path / "bad").exists()


def test_bad_config_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"p_same_artist must be in \[0, 1\]"):
        SyntheticConfig(p_same_artist=1.5)
    with pytest.raises(ConfigError, match="min_genres"):
        SyntheticConfig(user_types=(UserType("odd", 1.0, 5, 5, min_genres=3, max_genres=2),))


def test_more_genres_than_names_are_numbered(tmp_path: Path) -> None:
    out = generate(tmp_path / "many", users=20, songs=300, artists=100, genres=60)["path"]
    genres = load_dataset(out).genres["genre"]
    assert len(genres) == 60 and "Genre 52" in set(genres) and "Genre 60" in set(genres)


def test_replaces_a_dataset_but_never_other_folders(tmp_path: Path) -> None:
    out = tmp_path / "data"
    generate(out, users=20, songs=100, artists=10)
    generate(out, users=20, songs=100, artists=10, fmt="csv")
    assert sorted(p.suffix for p in out.iterdir()) == [".csv"] * 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "data.truth.json"]  # no temporary leftovers
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not dataset tables"):
        generate(notes, users=20, songs=100, artists=10)
    assert (notes / "todo.txt").read_text() == "keep me"


def test_cli_generate_writes_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = main(["generate", "--out", str(out), "--users", "50", "--songs", "300", "--artists", "30",
                 "--format", "csv", "--seed", "1"])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {f"{name}.csv" for name in TABLE_FILES}
    assert (tmp_path / "cli.truth.json").is_file()
    printed = capsys.readouterr().out
    assert "50 users" in printed and "300 songs" in printed and str(out) in printed and "cli.truth.json" in printed
    assert main(["generate", "--out", str(tmp_path / "x"), "--songs", "10", "--artists", "20"]) == 1
    assert "must not exceed songs" in capsys.readouterr().err
