"""Full-catalogue ranking: what is masked for which target, and which users and songs a task holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from recsys.data import Dataset, load_dataset
from recsys.evaluation import ranking_task, top_k
from recsys.graph import id_maps

NUM_SONGS = 8
# user -> {split: songs}; u3 has only training songs and is in no task
LISTENS = {
    "u1": {"train": [0, 1, 2], "valid": [3], "test": [4, 5]},
    "u2": {"train": [6], "valid": [7, 0], "test": [1]},
    "u3": {"train": [2, 3]},
}


def rows() -> pd.DataFrame:
    data = [(user, f"s{song}", split) for user, splits in LISTENS.items() for split, songs in splits.items()
            for song in songs]
    return pd.DataFrame(data, columns=["user_id", "track_id", "split"])


def tracks() -> pd.DataFrame:
    return pd.DataFrame({"track_id": [f"s{i}" for i in range(NUM_SONGS)], "artist_id": "a"})


@pytest.fixture
def dataset() -> Dataset:
    return Dataset.from_tables(None, interactions=rows().assign(plays=1), tracks=tracks(),
                               artists=pd.DataFrame({"artist_id": ["a"]}))


def seen_first(users: torch.Tensor) -> torch.Tensor:
    """Scores that put every user's own songs (any split) above all others: masking must undo that."""
    scores = torch.zeros(len(users), NUM_SONGS)
    for row, user in enumerate(users.tolist()):
        for songs in LISTENS[f"u{user + 1}"].values():
            scores[row, songs] = 100.0
    return scores


def songs_of(user: str, *splits: str) -> set[int]:
    return {song for split in splits for song in LISTENS[user].get(split, [])}


def test_task_users_relevant_and_counts(dataset: Dataset) -> None:
    maps = id_maps(dataset)
    test = ranking_task(dataset, maps, "test")
    assert test.users.tolist() == [0, 1]  # u3 has nothing held out
    held_out = {(int(test.users[r]), int(s)) for r, s in test.relevant.T}
    assert held_out == {(0, 4), (0, 5), (1, 1)}
    assert test.train_counts.tolist() == [3, 1, 2]
    assert test.num_songs == NUM_SONGS


def test_test_task_masks_train_and_valid(dataset: Dataset) -> None:
    task = ranking_task(dataset, id_maps(dataset), "test")
    top = top_k(seen_first, task, 3)
    for row, user in enumerate(["u1", "u2"]):
        assert not set(top[row].tolist()) & songs_of(user, "train", "valid")
    assert set(top[0, :2].tolist()) == {4, 5}  # the held-out songs are the best unmasked ones


def test_valid_task_masks_train_only(dataset: Dataset) -> None:
    task = ranking_task(dataset, id_maps(dataset), "valid")
    top = top_k(seen_first, task, 3)
    for row, user in enumerate(["u1", "u2"]):
        ranked = set(top[row].tolist())
        assert not ranked & songs_of(user, "train")
        assert songs_of(user, "valid") <= ranked  # valid songs are candidates (and rank first here)


def lowest_first(users: torch.Tensor) -> torch.Tensor:
    """Scores that fall with the song index, so unseen songs with high indices would lose without masking."""
    return -torch.arange(NUM_SONGS, dtype=torch.float).expand(len(users), -1)


def test_full_catalogue_reaches_every_unseen_song(dataset: Dataset) -> None:
    task = ranking_task(dataset, id_maps(dataset), "test")
    for row, user in enumerate(["u1", "u2"]):
        unseen = set(range(NUM_SONGS)) - songs_of(user, "train", "valid")
        top = top_k(lowest_first, task, len(unseen))
        assert set(top[row].tolist()) == unseen  # every unseen song is a candidate, whatever its score
    assert top_k(lowest_first, task, 100).shape == (2, NUM_SONGS)  # k is capped at the catalogue


def test_ranking_task_from_csv_files_with_a_split_column(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    rows().to_csv(folder / "interactions.csv", index=False)
    tracks().to_csv(folder / "tracks.csv", index=False)
    (folder / "artists.csv").write_text("artist_id\na\n")
    loaded = load_dataset(folder)
    valid = ranking_task(loaded, id_maps(loaded), "valid")
    assert valid.users.tolist() == [0, 1]
    held_out = {(int(valid.users[r]), int(s)) for r, s in valid.relevant.T}
    assert held_out == {(0, 3), (1, 7), (1, 0)}
    excluded = valid.exclude.to_dense()
    assert excluded[0].nonzero().flatten().tolist() == [0, 1, 2]  # u1's training songs only
    assert excluded[1].nonzero().flatten().tolist() == [6]


def test_subset_keeps_rows_consistent(dataset: Dataset) -> None:
    task = ranking_task(dataset, id_maps(dataset), "test")
    sub = task.subset(torch.tensor([False, True]))
    assert sub.users.tolist() == [1]
    assert sub.relevant.tolist() == [[0], [1]]
