"""The default train/valid/test split, used when the data does not fix one with a `split` column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset

VALID_FRACTION = 0.1
TEST_FRACTION = 0.1
MIN_INTERACTIONS = 5  # users with fewer interactions keep them all in train: nothing to learn from otherwise


def temporal_split(interactions: pd.DataFrame) -> np.ndarray:
    """Per user in order of first play: the last 10% to test, the 10% before to valid (each at least one)."""
    order = interactions.sort_values(["user_id", "first_ts", "track_id"], kind="stable").index
    ordered = interactions.loc[order]
    size = ordered.groupby("user_id", sort=False)["track_id"].transform("size").to_numpy()
    rank_from_end = size - 1 - ordered.groupby("user_id", sort=False).cumcount().to_numpy()
    n_test = np.maximum(1, np.rint(size * TEST_FRACTION)).astype(int)
    n_valid = np.maximum(1, np.rint(size * VALID_FRACTION)).astype(int)
    labels = np.full(len(ordered), "train", dtype=object)
    eligible = size >= MIN_INTERACTIONS
    labels[eligible & (rank_from_end < n_test)] = "test"
    labels[eligible & (rank_from_end >= n_test) & (rank_from_end < n_test + n_valid)] = "valid"
    out = np.empty(len(interactions), dtype=object)
    out[interactions.index.get_indexer(order)] = labels
    return out


def random_split(n: int, seed: int) -> np.ndarray:
    """A random 80/10/10 assignment of n interactions, fixed by the seed."""
    n_test, n_valid = round(n * TEST_FRACTION), round(n * VALID_FRACTION)
    labels = np.array(["test"] * n_test + ["valid"] * n_valid + ["train"] * (n - n_test - n_valid), dtype=object)
    return labels[np.random.default_rng(seed).permutation(n)]


def assign_split(dataset: Dataset, seed: int = 0) -> tuple[Dataset, str]:
    """Return the dataset with a split and a sentence saying which rule produced it."""
    if dataset.has_split:
        return dataset, "split column of the data, honoured as given"
    if dataset.has_timestamps:
        labels = temporal_split(dataset.interactions)
        rule = (f"temporal: per user by first play, last {TEST_FRACTION:.0%} test, {VALID_FRACTION:.0%} before it "
                f"valid; users with < {MIN_INTERACTIONS} interactions all train")
    else:
        labels = random_split(len(dataset.interactions), seed)
        rule = f"random {1 - VALID_FRACTION - TEST_FRACTION:.0%}/{VALID_FRACTION:.0%}/{TEST_FRACTION:.0%} (seed {seed})"
    return dataset.with_split(labels), rule
