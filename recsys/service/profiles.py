"""Listener profiles of trained users: history, genre shares (also recency-weighted), drift, search.

Everything here reads the training interactions only, as the model saw them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from recsys.data import Dataset
from recsys.errors import ConfigError
from recsys.graph import LISTENS, PREFERS, training_last_play
from recsys.models import Scorer
from recsys.service.catalogue import Catalogue
from recsys.service.listener import Listener, unit

SECONDS_PER_DAY = 86_400.0


def check_half_life(half_life_days: object) -> None:
    """ConfigError unless ``half_life_days`` is a positive, finite number of days."""
    if isinstance(half_life_days, bool) or not isinstance(half_life_days, int | float) \
            or not math.isfinite(half_life_days) or half_life_days <= 0:
        raise ConfigError(f"half_life_days must be a positive number of days (got {half_life_days!r})")


class Profiles:
    """Trained users as `Listener`s, and summaries of their training history."""

    def __init__(self, graph, dataset: Dataset, scorer: Scorer, catalogue: Catalogue) -> None:
        self.graph, self.maps, self.scorer, self.catalogue = graph, graph.id_maps, scorer, catalogue
        interactions = dataset.interactions
        self.interactions = interactions
        self.train = interactions[interactions["split"] == "train"] if "split" in interactions else interactions
        if "last_ts" in self.train:  # the last play the model saw, not a replay in the held-out period
            self.train = self.train.assign(last_ts=training_last_play(dataset, self.train))
        self._rows_by_user: dict[str, np.ndarray] | None = None
        self._held_out: dict[tuple[str, str], int] | None = None
        self._users: pd.DataFrame | None = None

    # ---- listeners ------------------------------------------------------------------------------------------
    def listener(self, user: int, half_life_days: float | None = None) -> Listener:
        """A trained user; with ``half_life_days`` their genre shares weight each play by its recency."""
        history = self.scorer.history(user)
        listens = self.graph[LISTENS]
        mine = listens.edge_index[0] == user
        plays = torch.zeros(len(self.maps.song)).index_put_((listens.edge_index[1][mine],), listens.plays[mine])
        genres, shares = self.shares(user)
        listener = Listener(self.maps.user.id_of(user), self.maps.user.name_of(user), user, user, history,
                            plays[history], self.scorer.user_emb[user], genres, shares, unit(shares),
                            float(self.scorer.adaptive[user]), ("user", user))
        if half_life_days is None:
            return listener
        return listener.with_shares(*self.recent_shares(user, half_life_days), ("half-life", half_life_days))

    def shares(self, user: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(genre indices ascending, shares of training plays) from the graph's prefers edges."""
        if PREFERS not in self.graph.edge_types:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0)
        store = self.graph[PREFERS]
        mine = store.edge_index[0] == user
        genres, shares = store.edge_index[1][mine], store.edge_weight[mine]
        order = torch.argsort(genres)
        return genres[order], shares[order]

    def top_genre(self, user: int) -> str:
        """The genre with the largest share of the user's plays ("(none)" without genres)."""
        genres, shares = self.shares(user)
        return self.maps.genre.name_of(int(genres[shares.argmax()])) if len(genres) else "(none)"

    def recent_shares(self, user: int, half_life_days: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Genre shares with each song's plays weighted by 0.5 ** (age of its last play / half-life).

        Ages count back from the user's latest training play (shares are normalised, so the reference point
        only matters through the differences between songs).
        """
        check_half_life(half_life_days)
        rows = self.rows(user)
        if "last_ts" not in rows:
            raise ConfigError("this dataset has no timestamps, so there is no recent taste to weight by")
        age = (rows["last_ts"].max() - rows["last_ts"]).dt.total_seconds().to_numpy() / SECONDS_PER_DAY
        plays = rows["plays"].to_numpy(dtype=np.float64) * np.power(0.5, age / float(half_life_days))
        songs = torch.as_tensor(self.maps.song.indices(rows["track_id"]))
        return self.catalogue.genre_shares(songs, torch.as_tensor(plays))

    def rows(self, user: int) -> pd.DataFrame:
        """The user's training interactions (one row per song), with the plays the training graph counts."""
        if self._rows_by_user is None:  # a benign race: two threads may both build the same index once
            self._rows_by_user = self.train.groupby("user_id", sort=False, observed=True).indices
        positions = self._rows_by_user.get(self.maps.user.id_of(user), np.zeros(0, np.int64))
        rows = self.train.iloc[positions]
        listens = self.graph[LISTENS]  # plays as the graph counts them: those of the training period
        mine = listens.edge_index[0] == user
        plays = dict(zip(listens.edge_index[1][mine].tolist(), listens.plays[mine].tolist(), strict=True))
        return rows.assign(plays=[plays.get(int(s), 0.0) for s in self.maps.song.indices(rows["track_id"])])

    # ---- summaries ------------------------------------------------------------------------------------------
    def history(self, user: int) -> pd.DataFrame:
        """track_id, title, artist, genres, plays of the user's training history, most played first."""
        rows = self.rows(user).sort_values("plays", ascending=False, kind="stable")
        infos = [self.catalogue.track_info(s) for s in self.maps.song.indices(rows["track_id"])]
        return pd.DataFrame({"track_id": [i["track_id"] for i in infos], "title": [i["title"] for i in infos],
                             "artist": [i["artist"] for i in infos], "genres": [i["genres"] for i in infos],
                             "plays": rows["plays"].to_numpy(dtype=np.int64)})

    def drift(self, user: int, freq: str = "MS", rollup: bool = False) -> pd.DataFrame:
        """period, genre, share: genre shares of the user's plays per period (each period's shares sum to 1).

        Interactions are stored per (user, song) with first and last play and a play count, so a song's plays
        are spread evenly over the periods from its first to its last play.
        """
        rows = self.rows(user)
        if "first_ts" not in rows:
            raise ConfigError("this dataset has no timestamps, so there is no genre drift to show")
        try:
            step = pd.tseries.frequencies.to_offset(freq)
        except ValueError:
            raise ConfigError(f"freq must be a pandas frequency such as 'MS' or 'W' (got {freq!r})") from None
        records = []
        for row in rows.dropna(subset=["first_ts", "last_ts"]).itertuples():
            first, last = row.first_ts.tz_localize(None), row.last_ts.tz_localize(None)
            periods = pd.date_range(step.rollback(first.normalize()), last, freq=step)
            for genre, weight in self.catalogue.mix[self.maps.song.index(row.track_id)]:
                label = self.catalogue.genre_label(genre, rollup)
                records += [(start, label, row.plays * weight / len(periods)) for start in periods]
        frame = pd.DataFrame(records, columns=["period", "genre", "share"])
        if frame.empty:
            return frame.astype({"share": "float64"})
        frame = frame.groupby(["period", "genre"], as_index=False, sort=True)["share"].sum()
        frame["share"] /= frame.groupby("period")["share"].transform("sum")
        return frame

    def profile(self, user: int, top: int = 10, recent: int = 10) -> dict[str, Any]:
        """Counts, top genres (share of plays), top artists, most recent songs, held-out counts."""
        rows = self.rows(user)
        tracks = self.catalogue.song_artist
        artists = pd.Series(tracks[self.maps.song.indices(rows["track_id"])].numpy(), index=rows.index)
        by_artist = rows.assign(artist=artists).groupby("artist", sort=False)["plays"].sum()
        by_artist = by_artist.sort_values(ascending=False).head(top)
        genres, shares = self.shares(user)
        order = torch.argsort(shares, descending=True)[:top]
        sort_col = "last_ts" if "last_ts" in rows else "plays"
        recent_rows = rows.sort_values(sort_col, ascending=False).head(recent)
        user_id = self.maps.user.id_of(user)
        held_out = self.held_out(user_id)
        return {
            "user_id": user_id,
            "name": self.maps.user.name_of(user),
            "interactions": len(rows),
            "plays": int(rows["plays"].sum()),
            "artists": int(artists.nunique()),
            "held_out": held_out,
            "top_genres": [{"genre": self.maps.genre.name_of(int(genres[i])),
                            "parent": self.catalogue.genre_parent(self.maps.genre.name_of(int(genres[i]))),
                            "share": float(shares[i])} for i in order.tolist()],
            "top_artists": [{"artist_id": self.maps.artist.id_of(a), "artist": self.maps.artist.name_of(a),
                             "plays": int(p)} for a, p in by_artist.items()],
            "recent": [{**self.catalogue.track_info(self.maps.song.index(r.track_id)), "plays": int(r.plays),
                        **({"last_played": r.last_ts.isoformat()} if "last_ts" in rows else {})}
                       for r in recent_rows.itertuples()],
            "adaptive_genre_weight": float(self.scorer.adaptive[user]),
        }

    def held_out(self, user_id: str) -> dict[str, int]:
        """Interactions per held-out split label (valid, test) of one user."""
        if self._held_out is None:  # a benign race: two threads may both build the same table once
            self._held_out = ({} if "split" not in self.interactions else
                              self.interactions.groupby(["user_id", "split"], observed=True).size().to_dict())
        return {label: int(self._held_out.get((user_id, label), 0)) for label in ("valid", "test")}

    # ---- users ----------------------------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """user_id, name, interactions (training), most active first."""
        if self._users is None:  # a benign race: two threads may both build the same frame once
            counts = self.scorer.known.crow_indices().diff().numpy()
            self._users = pd.DataFrame({"user_id": [str(u) for u in self.maps.user.ids],
                                        "name": [str(n) for n in self.maps.user.names],
                                        "interactions": counts}).sort_values(
                "interactions", ascending=False, kind="stable", ignore_index=True)
        return self._users

    def search(self, query: str = "", limit: int = 50) -> pd.DataFrame:
        """Users whose ID or name contains ``query`` (case-insensitive), most active first."""
        frame = self.table()
        if query:
            q = query.strip().lower()
            frame = frame[frame["user_id"].str.lower().str.contains(q, regex=False)
                          | frame["name"].str.lower().str.contains(q, regex=False)]
        return frame.head(max(0, int(limit))).reset_index(drop=True)

    def random_user(self, seed: int | None = None) -> str:
        """A random user with training history (reproducible with a seed)."""
        active = self.table()
        return str(active[active["interactions"] > 0]["user_id"].sample(1, random_state=seed).iat[0])

