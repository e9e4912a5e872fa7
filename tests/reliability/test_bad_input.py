"""Bad and awkward input through the loader, training, evaluation and the service (the CLI is in test_cli.py).

Most single-file loader cases live in tests/data/test_load.py (see docs/reliability.md); here are the gaps: typed
Parquet cells (binary text that is not UTF-8, IDs that are lists or true/false), fuzzing with typed Parquet
columns and with damaged bytes, and the awkward-but-valid datasets (a listener with no training history, a song
without genres, a dataset without genre files) carried through training, evaluation and the Recommender.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import HOSTILE_ARTIST, HOSTILE_TITLE, HOSTILE_USER, NEW_USER, NO_GENRE_TRACK, TEST_ONLY_USER

from recsys.data import Dataset, load_dataset
from recsys.errors import ConfigError, DataValidationError, Problem, UnknownIdError

TRACKS = pd.DataFrame({"track_id": ["t1", "t2"], "artist_id": ["a1", "a1"], "title": ["One", "Two"]})
ARTISTS = pd.DataFrame({"artist_id": ["a1"], "name": ["Artist"]})
INTERACTIONS = pd.DataFrame({"user_id": ["u1", "u2"], "track_id": ["t1", "t2"], "plays": [1, 2]})


def write_parquet(folder: Path, **tables: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, frame in {"interactions": INTERACTIONS, "tracks": TRACKS, "artists": ARTISTS, **tables}.items():
        frame.to_parquet(folder / f"{stem}.parquet", index=False)
    return folder


def only_problem(folder: Path) -> Problem:
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)
    assert len(info.value.problems) >= 1
    return info.value.problems[0]


# ---------------------------------------------------------------------------------------------- typed Parquet cells

@pytest.mark.parametrize(("table", "column", "values", "message"), [
    ("interactions", "user_id", [b"u1", b"u\xff"], "not UTF-8 text"),
    ("tracks", "title", [b"\xffOne", b"Two"], "not UTF-8 text"),
    ("interactions", "user_id", [["u1"], ["u2"]], "an ID must be text or a number"),
    ("interactions", "track_id", [{"id": "t1"}, {"id": "t2"}], "an ID must be text or a number"),
    ("interactions", "user_id", [True, False], "not true/false"),
    ("artists", "artist_id", [True], "not true/false"),
])
def test_parquet_cells_of_the_wrong_type_are_located(tmp_path: Path, table: str, column: str, values: list,
                                                      message: str) -> None:
    frame = {"interactions": INTERACTIONS, "tracks": TRACKS, "artists": ARTISTS}[table].copy()
    frame[column] = pd.Series(values, dtype=object)
    problem = only_problem(write_parquet(tmp_path, **{table: frame}))
    assert problem.file == f"{table}.parquet" and problem.column == column and problem.row is not None
    assert message in problem.message, problem


def test_parquet_binary_text_that_is_utf8_reads_as_text(tmp_path: Path) -> None:
    tracks = TRACKS.assign(track_id=pd.Series([b"t1", b"t2"], dtype=object),
                           title=pd.Series(["Caf\u00e9".encode(), b"Two"], dtype=object))
    ds = load_dataset(write_parquet(tmp_path, tracks=tracks))
    assert list(ds.tracks["track_id"]) == ["t1", "t2"] and list(ds.tracks["title"]) == ["Caf\u00e9", "Two"]


# ---------------------------------------------------------------------------------------------- fuzzing
# tests/data/test_load.py::test_fuzz_loads_or_raises_data_validation_error fuzzes CSV text (cells, headers, ragged
# rows, quoting). These add what text cannot express: typed Parquet columns, and damaged bytes.

def _check_outcome(folder: str | Path) -> None:
    """The contract: a Dataset, or DataValidationError with located problems; never anything else."""
    try:
        ds = load_dataset(folder)
    except DataValidationError as exc:
        assert exc.problems and all(isinstance(p, Problem) for p in exc.problems)
        assert str(exc).startswith("invalid dataset")
    else:
        assert isinstance(ds, Dataset) and ds.fingerprint and len(ds.interactions) >= 1
        assert ds.interactions["user_id"].map(type).eq(str).all()
        assert set(ds.interactions["track_id"]) <= set(ds.tracks["track_id"])


TYPED_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), st.integers(2**53, 2**62), st.sampled_from([math.nan, math.inf]),
    st.floats(-10, 10, allow_nan=False), st.text(max_size=4), st.sampled_from(["t1", "t2", "u1", "a1", "train"]),
    st.binary(max_size=3), st.sampled_from([b"\xff\xfe", "2024-01-01T00:00:00Z", "1709317325", "test"]),
)
COLUMNS = {"interactions": ["user_id", "track_id", "plays", "timestamp", "ms_played", "split"],
           "tracks": ["track_id", "artist_id", "title", "duration_ms"], "artists": ["artist_id", "name"]}


@st.composite
def typed_tables(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Valid tables in which some columns are replaced by one random Python type per column (as Parquet stores)."""
    base = {"interactions": INTERACTIONS.assign(timestamp=[1709317325, 1709317326], split=["train", "test"]),
            "tracks": TRACKS.assign(duration_ms=[1000, 2000]), "artists": ARTISTS}
    out = {}
    for stem, frame in base.items():
        frame = frame.copy()
        for column in draw(st.lists(st.sampled_from(COLUMNS[stem]), unique=True, max_size=2)):
            if draw(st.booleans()):  # one value, so one type, for the whole column: what a typed column holds
                values = [draw(TYPED_VALUES)] * len(frame)
            else:
                values = [draw(TYPED_VALUES) for _ in range(len(frame))]
            frame[column] = pd.Series(values, dtype=object)
        out[stem] = frame
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_tables())
def test_fuzz_typed_parquet_loads_or_raises_validation_error(tables: dict[str, pd.DataFrame]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for stem, frame in tables.items():
            try:
                frame.to_parquet(Path(tmp) / f"{stem}.parquet", index=False)
            except Exception:  # pyarrow cannot store every mix of types; such a file cannot exist
                return
        _check_outcome(tmp)


VALID_CSV = {"interactions.csv": b"user_id,track_id,plays,timestamp,split\nu1,t1,2,2024-01-01T00:00:00Z,train\n"
                                 b"u2,t2,1,1709317325,test\n",
             "tracks.csv": "track_id,artist_id,title\nt1,a1,Caf\u00e9 \U0001f3b7\nt2,a1,\"Two, too\"\n".encode(),
             "artists.csv": b"artist_id,name\na1,Artist\n"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID_CSV)), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 3),
                                                               st.binary(min_size=1, max_size=2)),
                                                     min_size=1, max_size=4))
def test_fuzz_damaged_bytes_load_or_raise_validation_error(name: str, edits: list[tuple[int, int, bytes]]) -> None:
    """Bytes flipped, inserted, deleted or cut short in one file (a bad download, a bad editor)."""
    data = bytearray(VALID_CSV[name])
    for position, kind, payload in edits:
        at = position % (len(data) + 1)
        if kind == 0:
            data[at:at + len(payload)] = payload  # overwrite
        elif kind == 1:
            data[at:at] = payload  # insert
        elif kind == 2:
            del data[at:at + len(payload)]  # delete
        else:
            del data[at:]  # truncate
    with tempfile.TemporaryDirectory() as tmp:
        for other, content in VALID_CSV.items():
            (Path(tmp) / other).write_bytes(bytes(data) if other == name else content)
        _check_outcome(tmp)


@pytest.mark.parametrize("damage", [b"\r", b"\r\n", b"\n\n"])
def test_blank_lines_or_a_lone_carriage_return_before_the_header(damage: bytes) -> None:
    """Found by the fuzz test: a lone CR before the header was a csv.Error traceback in the header check."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in VALID_CSV.items():
            (Path(tmp) / name).write_bytes(damage + content if name == "artists.csv" else content)
        _check_outcome(tmp)


# ---------------------------------------------------------------------------------------------- awkward but valid data

def test_odd_names_survive_loading_training_and_the_service(odd_rec) -> None:
    track = odd_rec.track(NO_GENRE_TRACK)
    assert (track["title"], track["artist"], track["genres"]) == (HOSTILE_TITLE, HOSTILE_ARTIST, [])
    assert odd_rec.user_profile(NEW_USER)["name"] == HOSTILE_USER


@pytest.mark.parametrize("user", [TEST_ONLY_USER, NEW_USER])
def test_training_and_evaluation_handle_a_listener_without_training_history(odd, user) -> None:
    result = odd.result
    rows = result.dataset.interactions[result.dataset.interactions["user_id"] == user]
    assert (rows["split"] != "train").all()
    index = result.graph.id_maps.user.index(user)
    assert index not in result.graph["user", "listens", "song"].edge_index[0].tolist()
    assert all(math.isfinite(v) for v in (*result.valid.values(), *result.test.values()))
    if user == TEST_ONLY_USER:  # evaluated with every test listener (and among the cold ones: <= 5 in training)
        from recsys.evaluation import ranking_task

        task = ranking_task(result.dataset, result.graph.id_maps, "test")
        assert index in task.users.tolist()
        assert result.test["cold_users"] >= 1 and math.isfinite(result.test["cold_ndcg@10"])


@pytest.mark.parametrize("user", [TEST_ONLY_USER, NEW_USER])
def test_a_listener_without_training_history_gets_popular_songs_and_is_told_why(odd_rec, user) -> None:
    frame = odd_rec.recommend(user, k=10, genre_weight=0.4)
    assert frame.attrs["strategy"] == "no listening history: popular songs"
    assert list(frame["track_id"]) == list(odd_rec.recommend_for_genres([], k=10)["track_id"])
    listeners = odd_rec.search_tracks(limit=10**6).set_index("track_id")["listeners"]
    assert list(listeners[frame["track_id"]]) == sorted(listeners[frame["track_id"]], reverse=True)
    exp = odd_rec.explain(user, frame["track_id"].iat[0])
    assert exp["strategy"] == "no listening history: popular songs" and "no listening history" in exp["sentence"]
    assert exp["rank"] == exp["popularity"]["rank"] == 1 and exp["history_contributions"] == []
    profile = odd_rec.user_profile(user)
    assert profile["interactions"] == 0 and profile["top_genres"] == [] and profile["recent"] == []
    if user == TEST_ONLY_USER:
        assert profile["held_out"]["test"] > 0
    assert odd_rec.attention_subgraph(user, frame["track_id"].iat[0])["nodes"]


def test_a_listener_with_history_is_told_the_models_strategy(odd_rec) -> None:
    user = odd_rec.search_users(limit=1)["user_id"].iat[0]
    frame = odd_rec.recommend(user, k=3)
    exp = odd_rec.explain(user, frame["track_id"].iat[0])
    assert frame.attrs["strategy"] == exp["strategy"] == "personalised" and exp["rank"] == 1


@pytest.mark.parametrize("weight", [math.nan, -0.1, 1.5, "abc"])
def test_bad_genre_weight_is_refused_even_when_it_would_not_be_used(odd_rec, weight) -> None:
    """It used to pass silently for a listener without history (their list ignores the weight)."""
    with pytest.raises(ConfigError, match="genre_weight"):
        odd_rec.recommend(NEW_USER, genre_weight=weight)


def test_k_beyond_the_catalogue_is_clamped_with_a_note_for_popular_lists(odd_rec) -> None:
    songs = len(odd_rec.search_tracks(limit=10**6))
    frame = odd_rec.recommend(NEW_USER, k=songs + 50)
    assert len(frame) == songs and f"exceeds the {songs:,} songs" in frame.attrs["note"]
    assert len(odd_rec.recommend_for_genres([], k=songs + 1)) == songs


def test_a_song_without_genres_is_scored_explained_and_drawn(odd_rec) -> None:
    user = "u0001"  # played it in training; another listener who did not:
    other = next(u for u in odd_rec.users() if u not in ("u0001", "u0002", "u0003", TEST_ONLY_USER, NEW_USER))
    exp = odd_rec.explain(other, NO_GENRE_TRACK)
    assert exp["genre_influence"] == 0.0 and exp["genres"] == [] and exp["rank"] >= 1
    scores = odd_rec.scorer.scores(torch.tensor([odd_rec.user_index(other)]))
    assert exp["score"] == pytest.approx(float(scores[0, odd_rec.track_index(NO_GENRE_TRACK)]), rel=1e-5)
    assert odd_rec.explain(user, NO_GENRE_TRACK)["already_listened"]
    graph = odd_rec.attention_subgraph(other, NO_GENRE_TRACK)
    assert any(n["label"] == HOSTILE_TITLE for n in graph["nodes"])
    assert NO_GENRE_TRACK in set(odd_rec.recommend(other, k=200)["track_id"])
    assert odd_rec.similar_tracks(NO_GENRE_TRACK, k=3)["track_id"].tolist()


def test_a_dataset_without_genre_files_trains_recommends_and_explains(odd_no_genres, odd_no_genres_rec) -> None:
    rec = odd_no_genres_rec
    assert rec.genres() == [] and rec.genre_distribution().empty
    assert rec.genre_distribution()["songs"].dtype.kind == "f"  # typed like a full table: charts can sort it
    assert math.isfinite(odd_no_genres.result.test["ndcg@10"])
    user = rec.search_users(limit=1)["user_id"].iat[0]
    frame = rec.recommend(user, k=5)
    assert frame.attrs["strategy"] == "personalised" and (frame["genre_score"] == 0).all()
    assert (frame["genres"].map(len) == 0).all()
    exp = rec.explain(user, frame["track_id"].iat[0], counterfactual=True)
    assert exp["genre_influence"] == 0.0 and not (exp["genre_influence_details"] or {}).get("genre_details")
    assert exp["counterfactual"]["candidates_rescored"] >= 1
    assert rec.recommend(NEW_USER, k=5).attrs["strategy"] == "no listening history: popular songs"
    assert len(rec.recommend_for_genres([], k=5)) == 5
    with pytest.raises(UnknownIdError, match="unknown genre 'Rock'"):
        rec.recommend_for_genres(["Rock"], k=5)
    assert rec.embedding_projection("user", sample=10)["genre"].eq("(none)").all()


def test_unknown_ids_are_refused_by_every_lookup(odd_rec) -> None:
    """tests/service/test_recommender.py covers recommend/explain; these are the other entry points."""
    user = odd_rec.users()[0]
    calls = [lambda: odd_rec.user_profile("nobody"), lambda: odd_rec.similar_tracks("t-none"),
             lambda: odd_rec.attention_subgraph(user, "t-none"), lambda: odd_rec.track("t-none"),
             lambda: odd_rec.adaptive_genre_weight("nobody"), lambda: odd_rec.recommend_baseline("popularity", "x")]
    for call in calls:
        with pytest.raises(UnknownIdError):
            call()


def test_ids_that_look_like_numbers_stay_text(odd_rec) -> None:
    with pytest.raises(UnknownIdError):
        odd_rec.recommend(5)  # the user ID is 'u0005', and 5 is not '5' either
    assert isinstance(odd_rec.recommend(np.str_(TEST_ONLY_USER)), pd.DataFrame)
