"""Most popular songs first, the same list for everyone: the floor any personalised model must clear."""

from __future__ import annotations

from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.baselines.base import Baseline
from recsys.config import TrainConfig
from recsys.evaluation import RankingTask
from recsys.training.trainer import catalogue_stats


class Popularity(Baseline):
    """Scores every song by its number of training users (the popularity the novelty metric uses)."""

    name = "popularity"

    def __init__(self) -> None:
        super().__init__()
        self.popularity: Tensor | None = None  # [S]

    def _fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> None:
        self.popularity = catalogue_stats(graph).popularity.float()

    def score(self, users: Tensor) -> Tensor:
        return self._fitted(self.popularity).expand(len(users), -1)
