"""Graph building on a tiny dataset whose every edge and weight is known."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys.data import assign_split, load_dataset
from recsys.errors import ConfigError, UnknownIdError
from recsys.graph import (
    BY,
    LISTENS,
    PREFERS,
    SONG_GENRE,
    build_graph,
    interaction_index,
    reverse,
    training_last_play,
)
from recsys.graph.edit import without_listens


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text.strip() + "\n", encoding="utf-8")


@pytest.fixture()
def tiny(tmp_path: Path):
    write(tmp_path, "interactions.csv", """
user_id,track_id,plays,split,ms_played
u1,t1,3,train,
u1,t2,1,train,60000
u1,t3,2,test,
u2,t1,1,train,
u2,t3,4,valid,
""")
    write(tmp_path, "tracks.csv", """
track_id,artist_id,title,duration_ms
t1,a1,One,200000
t2,a1,Two,240000
t3,a2,Three,180000
""")
    write(tmp_path, "artists.csv", "artist_id,name\na1,Alpha\na2,Beta")
    write(tmp_path, "artist_genres.csv", "artist_id,genre\na1,Jazz\na2,Rock")
    write(tmp_path, "track_genres.csv", "track_id,genre,weight\nt2,Jazz,1\nt2,Rock,3")
    return load_dataset(tmp_path)


def edges(graph, edge_type) -> set[tuple[int, int]]:
    return set(map(tuple, graph[edge_type].edge_index.T.tolist()))


def test_training_graph_holds_train_edges_only(tiny):
    graph = build_graph(tiny, "train")
    # u1 -> t1, u1 -> t2, u2 -> t1; the valid (u2, t3) and test (u1, t3) pairs are absent
    assert edges(graph, LISTENS) == {(0, 0), (0, 1), (1, 0)}
    held_out = interaction_index(tiny, graph.id_maps, ["valid", "test"])
    assert not set(map(tuple, held_out.T.tolist())) & edges(graph, LISTENS)
    assert edges(graph, reverse(LISTENS)) == {(s, u) for u, s in edges(graph, LISTENS)}


def test_node_counts_and_maps(tiny):
    graph = build_graph(tiny)
    assert {t: graph[t].num_nodes for t in graph.node_types} == {"user": 2, "song": 3, "artist": 2, "genre": 2}
    assert graph.id_maps.song.index("t3") == 2
    assert graph.id_maps.artist.name_of(1) == "Beta"
    with pytest.raises(UnknownIdError, match="t9"):
        graph.id_maps.song.index("t9")
    assert edges(graph, BY) == {(0, 0), (1, 0), (2, 1)}


def test_listen_weights_use_plays_and_completion(tiny):
    graph = build_graph(tiny)
    weight = dict(zip(map(tuple, graph[LISTENS].edge_index.T.tolist()), graph[LISTENS].edge_weight.tolist(),
                      strict=True))
    assert weight[(0, 0)] == pytest.approx(math.log1p(3))
    # 60 s of a 240 s track: completion 0.25
    assert weight[(0, 1)] == pytest.approx(math.log1p(1) * 0.25)


def test_genre_edges_and_user_shares(tiny):
    graph = build_graph(tiny)
    jazz, rock = graph.id_maps.genre.index("Jazz"), graph.id_maps.genre.index("Rock")
    song_genre = {tuple(e): w for e, w in zip(graph[SONG_GENRE].edge_index.T.tolist(),
                                              graph[SONG_GENRE].edge_weight.tolist(), strict=True)}
    # t1 inherits a1's Jazz; t2 has its own genres, weights normalised to sum to 1
    assert song_genre == {(0, jazz): 1.0, (1, jazz): 0.25, (1, rock): 0.75, (2, rock): 1.0}
    shares = {tuple(e): w for e, w in zip(graph[PREFERS].edge_index.T.tolist(),
                                          graph[PREFERS].edge_weight.tolist(), strict=True)}
    # u1 played t1 three times (Jazz) and t2 once (0.25 Jazz, 0.75 Rock): Jazz 3.25/4, Rock 0.75/4
    assert shares[(0, jazz)] == pytest.approx(3.25 / 4)
    assert shares[(0, rock)] == pytest.approx(0.75 / 4)
    # u2's held-out Rock song (t3) must not leak into its preferences
    assert (1, rock) not in shares and shares[(1, jazz)] == pytest.approx(1.0)


def test_split_required_unless_all(tiny):
    no_split = tiny.with_split(np.full(len(tiny.interactions), None)).interactions.drop(columns="split")
    dataset = type(tiny)(tiny.path, no_split, tiny.tracks, tiny.artists, tiny.genres, tiny.track_genres,
                         tiny.artist_genres, tiny.users)
    with pytest.raises(ConfigError, match="no split"):
        build_graph(dataset, "train")
    assert build_graph(dataset, "all")[LISTENS].edge_index.size(1) == 5


def test_no_genre_files_gives_no_genre_nodes(tmp_path: Path):
    write(tmp_path, "interactions.csv", "user_id,track_id\nu1,t1\nu2,t1")
    write(tmp_path, "tracks.csv", "track_id,artist_id\nt1,a1")
    write(tmp_path, "artists.csv", "artist_id\na1")
    graph = build_graph(load_dataset(tmp_path), "all")
    assert "genre" not in graph.node_types and PREFERS not in graph.edge_types


def test_generated_data_never_leaks_held_out_edges(small_dataset):
    dataset, _ = assign_split(small_dataset, 0)
    graph = build_graph(dataset)
    train = edges(graph, LISTENS)
    held_out = set(map(tuple, interaction_index(dataset, graph.id_maps, ["valid", "test"]).T.tolist()))
    assert held_out and train and not train & held_out


def test_without_listens_recomputes_preferences(tiny):
    graph = build_graph(tiny)
    edited = without_listens(graph, 0, [0])  # u1 without t1: only t2 (0.25 Jazz, 0.75 Rock) remains
    assert edges(edited, LISTENS) == {(0, 1), (1, 0)}
    assert edges(edited, reverse(LISTENS)) == {(1, 0), (0, 1)}
    shares = {tuple(e): w for e, w in zip(edited[PREFERS].edge_index.T.tolist(),
                                          edited[PREFERS].edge_weight.tolist(), strict=True)}
    jazz, rock = graph.id_maps.genre.index("Jazz"), graph.id_maps.genre.index("Rock")
    assert shares[(0, jazz)] == pytest.approx(0.25) and shares[(0, rock)] == pytest.approx(0.75)
    assert shares[(1, jazz)] == pytest.approx(1.0)
    assert graph[LISTENS].edge_index.size(1) == 3  # the original is untouched
    assert torch.equal(edited[BY].edge_index, graph[BY].edge_index)


def test_genre_shares_count_only_plays_before_the_held_out_period(tmp_path: Path):
    """u1 plays Jazz t1 once, then Rock t2 (held out, the last pair), then replays t1 four times: those four
    replays fall in the held-out period, so the training graph's Jazz share must come from one play, not five.
    With t3 (Rock) also in training, the shares are 1:1, where summed plays would give 5:1."""
    write(tmp_path, "interactions.csv", """
user_id,track_id,timestamp,split
u1,t1,2024-01-01T10:00:00Z,train
u1,t3,2024-01-01T11:00:00Z,train
u1,t2,2024-01-02T10:00:00Z,test
u1,t1,2024-01-02T11:00:00Z,train
u1,t1,2024-01-03T10:00:00Z,train
u1,t1,2024-01-03T11:00:00Z,train
u1,t1,2024-01-04T10:00:00Z,train
u2,t1,2024-01-01T10:00:00Z,train
""")
    write(tmp_path, "tracks.csv", "track_id,artist_id\nt1,a1\nt2,a2\nt3,a2")
    write(tmp_path, "artists.csv", "artist_id,name\na1,Alpha\na2,Beta")
    write(tmp_path, "artist_genres.csv", "artist_id,genre\na1,Jazz\na2,Rock")
    dataset = load_dataset(tmp_path)
    graph = build_graph(dataset, "train")
    maps = graph.id_maps
    u1, t1 = maps.user.index("u1"), maps.song.index("t1")
    shares = dict(zip(graph[PREFERS].edge_index[1][graph[PREFERS].edge_index[0] == u1].tolist(),
                      graph[PREFERS].edge_weight[graph[PREFERS].edge_index[0] == u1].tolist(), strict=True))
    assert shares == pytest.approx({maps.genre.index("Jazz"): 0.5, maps.genre.index("Rock"): 0.5})
    listens = graph[LISTENS]
    mine = (listens.edge_index[0] == u1) & (listens.edge_index[1] == t1)
    assert listens.plays[mine].tolist() == [1.0]
    assert listens.edge_weight[mine].tolist() == pytest.approx([math.log1p(1)])
    # the graph over every split holds out nothing, so all five plays count there
    everything = build_graph(dataset, "all")
    mine_all = (everything[LISTENS].edge_index[0] == u1) & (everything[LISTENS].edge_index[1] == t1)
    assert everything[LISTENS].plays[mine_all].tolist() == [5.0]


def test_last_play_is_the_last_one_before_the_held_out_period(tmp_path: Path):
    """u1's t1 is replayed on 01-02..01-04, after its held-out t2 (01-02 10:00): the recency weights and the drift
    chart must see t1's last training-period play (01-01 10:00), not 01-04. u2 holds nothing out: as stored."""
    write(tmp_path, "interactions.csv", """
user_id,track_id,timestamp,split
u1,t1,2024-01-01T10:00:00Z,train
u1,t3,2024-01-01T11:00:00Z,train
u1,t2,2024-01-02T10:00:00Z,test
u1,t1,2024-01-02T11:00:00Z,train
u1,t1,2024-01-04T10:00:00Z,train
u2,t1,2024-01-01T10:00:00Z,train
u2,t1,2024-01-05T10:00:00Z,train
""")
    write(tmp_path, "tracks.csv", "track_id,artist_id\nt1,a1\nt2,a2\nt3,a2")
    write(tmp_path, "artists.csv", "artist_id,name\na1,Alpha\na2,Beta")
    dataset = load_dataset(tmp_path)
    inter = dataset.interactions
    train = inter[inter["split"] == "train"]
    last = training_last_play(dataset, train)
    got = {(r.user_id, r.track_id): str(last[i]) for i, r in train.iterrows()}
    assert got == {("u1", "t1"): "2024-01-01 10:00:00+00:00", ("u1", "t3"): "2024-01-01 11:00:00+00:00",
                   ("u2", "t1"): "2024-01-05 10:00:00+00:00"}
    assert str(inter.loc[(inter.user_id == "u1") & (inter.track_id == "t1"), "last_ts"].iat[0]).startswith(
        "2024-01-04")  # the stored value, which would leak
