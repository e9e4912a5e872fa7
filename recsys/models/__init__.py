"""Graph-attention recommenders and their parts; models take tensors and return tensors."""

from __future__ import annotations

from recsys.config import ModelConfig
from recsys.models.attention import Adjacency
from recsys.models.gat import (
    MIN_SONGS_PER_ARTIST,
    EnhancedGATRecommender,
    GATRecommender,
    build_adjacencies,
    resolve_use_artists,
)
from recsys.models.memory import count_parameters, estimate_memory_usage, estimate_parameters
from recsys.models.scoring import Scorer

__all__ = ["MIN_SONGS_PER_ARTIST", "Adjacency", "EnhancedGATRecommender", "GATRecommender", "Scorer",
           "build_adjacencies", "build_model", "count_parameters", "estimate_memory_usage", "estimate_parameters",
           "resolve_use_artists"]


def build_model(config: ModelConfig, num_nodes: dict[str, int]) -> GATRecommender:
    """The model a config asks for (``use_enhanced`` picks the Enhanced GAT, as in the seed's trainer)."""
    return (EnhancedGATRecommender if config.use_enhanced else GATRecommender)(config, num_nodes)
