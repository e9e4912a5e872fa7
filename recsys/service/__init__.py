"""The service facade: `Recommender` answers recommendation and explanation questions by external ID."""

from recsys.service.recommender import Recommender

__all__ = ["Recommender"]
