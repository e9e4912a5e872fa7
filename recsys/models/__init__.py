"""Graph-attention recommenders and their parts; models take tensors and return tensors."""

from __future__ import annotations

from recsys.config import ModelConfig
from recsys.models.attention import Adjacency
from recsys.models.gat import EnhancedGATRecommender, GATRecommender, build_adjacencies
from recsys.models.memory import count_parameters, estimate_memory_usage, estimate_parameters
from recsys.models.scoring import Scorer

__all__ = ["Adjacency", "EnhancedGATRecommender", "GATRecommender", "Scorer", "build_adjacencies", "build_model",
           "count_parameters", "estimate_memory_usage", "estimate_parameters"]


def build_model(config: ModelConfig, num_nodes: dict[str, int]) -> GATRecommender:
    """The model a config asks for (``use_enhanced`` picks the Enhanced GAT, as in the seed's trainer)."""
    config.validate()
    common = {"num_users": num_nodes["user"], "num_songs": num_nodes["song"], "num_artists": num_nodes["artist"],
              "num_genres": num_nodes.get("genre", 0), "embedding_dim": config.embedding_dim,
              "hidden_dim": config.hidden_dim, "num_layers": config.num_layers, "heads": config.heads,
              "dropout": config.dropout, "attention": config.attention, "use_edge_weight": config.use_edge_weight}
    if not config.use_enhanced:
        return GATRecommender(**common)
    item_item = config.item_item and num_nodes["song"] <= config.item_item_max_songs
    return EnhancedGATRecommender(**common, use_genres=config.use_genres, genre_weight=config.genre_weight,
                                  item_item=item_item, item_item_topk=config.item_item_topk)
