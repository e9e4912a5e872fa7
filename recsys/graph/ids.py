"""Maps between external IDs (strings in the data) and node indices (rows of the embedding tables)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.errors import UnknownIdError


@dataclass(frozen=True, eq=False)
class IdMap:
    """External IDs of one node type in index order, with display names.

    Keep `user_id` (external, a string) and `user_index` (internal, an int) apart: only this class converts.
    """

    kind: str
    ids: pd.Index
    names: np.ndarray

    @classmethod
    def from_ids(cls, kind: str, ids: Sequence[str], names: Sequence[str] | None = None) -> IdMap:
        index = pd.Index(np.asarray(ids, dtype=object), dtype=object)
        labels = np.asarray(ids if names is None else names, dtype=object)
        return cls(kind, index, labels)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"IdMap({self.kind!r}, n={len(self)})"

    def __contains__(self, external_id: object) -> bool:
        return external_id in self.ids

    def index(self, external_id: object) -> int:
        """The node index of one ID; an unknown ID raises UnknownIdError with close matches."""
        try:
            return int(self.ids.get_loc(str(external_id)))
        except KeyError:
            raise UnknownIdError(self.kind, external_id, self._sample_for_hints()) from None

    def indices(self, external_ids: Iterable[object]) -> np.ndarray:
        """Vectorised lookup; raises UnknownIdError naming the first unknown ID."""
        values = np.asarray([str(v) for v in external_ids], dtype=object)
        found = self.ids.get_indexer(values)
        if (found < 0).any():
            raise UnknownIdError(self.kind, values[np.flatnonzero(found < 0)[0]], self._sample_for_hints())
        return found.astype(np.int64)

    def id_of(self, index: int) -> str:
        return str(self.ids[int(index)])

    def name_of(self, index: int) -> str:
        return str(self.names[int(index)])

    def _sample_for_hints(self) -> Sequence[str]:
        # difflib over millions of IDs is slow; close matches among the first 50K are hint enough
        return [str(v) for v in self.ids[:50_000]]

    def state(self) -> dict[str, list[str]]:
        """Plain lists for a checkpoint (loadable with torch.load(weights_only=True))."""
        return {"ids": [str(v) for v in self.ids], "names": [str(v) for v in self.names]}

    @classmethod
    def from_state(cls, kind: str, state: dict[str, list[str]]) -> IdMap:
        return cls.from_ids(kind, state["ids"], state["names"])


@dataclass(frozen=True, eq=False)
class IdMaps:
    """The four maps of a graph: user, song, artist, genre."""

    user: IdMap
    song: IdMap
    artist: IdMap
    genre: IdMap

    def __getitem__(self, node_type: str) -> IdMap:
        return getattr(self, node_type)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{kind}={len(self[kind])}" for kind in ("user", "song", "artist", "genre"))
        return f"IdMaps({sizes})"

    def state(self) -> dict[str, dict[str, list[str]]]:
        return {kind: self[kind].state() for kind in ("user", "song", "artist", "genre")}

    @classmethod
    def from_state(cls, state: dict[str, dict[str, list[str]]]) -> IdMaps:
        return cls(**{kind: IdMap.from_state(kind, state[kind]) for kind in ("user", "song", "artist", "genre")})

    def same_as(self, other: IdMaps) -> bool:
        """True when both map every node type to the same IDs in the same order."""
        return all(self[k].ids.equals(other[k].ids) for k in ("user", "song", "artist", "genre"))
