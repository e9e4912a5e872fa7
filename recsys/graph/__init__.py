"""From a dataset to a PyG HeteroData graph: ID maps and the training-only message-passing graph."""

from recsys.graph.build import (
    BY,
    FORWARD_RELATIONS,
    LISTENS,
    NODE_TYPES,
    PREFERS,
    SONG_GENRE,
    build_graph,
    id_maps,
    interaction_index,
    reverse,
    training_last_play,
)
from recsys.graph.ids import IdMap, IdMaps

__all__ = ["BY", "FORWARD_RELATIONS", "LISTENS", "NODE_TYPES", "PREFERS", "SONG_GENRE", "IdMap", "IdMaps",
           "build_graph", "id_maps", "interaction_index", "reverse",
           "training_last_play"]
