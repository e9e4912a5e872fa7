"""Graph-attention recommenders and their parts; models take tensors and return tensors."""

from __future__ import annotations

from recsys.config import ModelConfig
from recsys.models.attention import Adjacency
from recsys.models.gat import EnhancedGATRecommender, GATRecommender, build_adjacencies
from recsys.models.memory import count_parameters, estimate_memory_usage, estimate_parameters
from recsys.models.scoring import Scorer

__all__ = ["MIN_SONGS_PER_ARTIST", "Adjacency", "EnhancedGATRecommender", "GATRecommender", "Scorer",
           "build_adjacencies", "build_model", "count_parameters", "estimate_memory_usage", "estimate_parameters",
           "resolve_use_artists"]


MIN_SONGS_PER_ARTIST = 1.5  # below this on average, artist nodes mostly duplicate songs


def resolve_use_artists(config: ModelConfig, num_nodes: dict[str, int]) -> bool:
    """``config.use_artists``, or when unset: artists help only when they group songs (see GATRecommender)."""
    if config.use_artists is not None:
        return config.use_artists
    return num_nodes["song"] >= MIN_SONGS_PER_ARTIST * max(1, num_nodes["artist"])


def build_model(config: ModelConfig, num_nodes: dict[str, int]) -> GATRecommender:
    """The model a config asks for (``use_enhanced`` picks the Enhanced GAT, as in the seed's trainer)."""
    config.validate()
    common = {"num_users": num_nodes["user"], "num_songs": num_nodes["song"], "num_artists": num_nodes["artist"],
              "num_genres": num_nodes.get("genre", 0), "embedding_dim": config.embedding_dim,
              "hidden_dim": config.hidden_dim, "num_layers": config.num_layers, "heads": config.heads,
              "dropout": config.dropout, "attention": config.attention, "use_edge_weight": config.use_edge_weight,
              "use_artists": resolve_use_artists(config, num_nodes),
              "attention_stop_gradient": config.attention_stop_gradient}
    if not config.use_enhanced:
        return GATRecommender(**common)
    return EnhancedGATRecommender(**common, use_genres=config.use_genres, genre_weight=config.genre_weight,
                                  item_item=config.item_item, item_item_topk=config.item_item_topk)
