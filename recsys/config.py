"""Configuration as plain dataclasses: defaults with the reason for each, saved resolved into every checkpoint."""

from __future__ import annotations

import json
import math
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from recsys.errors import ConfigError

ATTENTION_KINDS = ("similarity", "gated", "softmax", "none")  # see recsys.models.attention


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a GAT recommender. `use_enhanced` picks the Enhanced model (as in the seed's config)."""

    use_enhanced: bool = True
    embedding_dim: int = 64
    hidden_dim: int = 64  # the propagation is transform-free; a different size adds one input projection
    num_layers: int = 2
    heads: int = 4
    dropout: float = 0.1  # attention (edge) dropout while training
    # dynamic similarity attention: valid NDCG@10 within one seed's spread of the static gate (0.1579 vs 0.1592 on
    # the default data; embeddings alone 0.1663 vs 0.1685 on Last.fm) while its attention separates planted
    # in-genre listens (AUC 0.76 vs 0.53); README, The models
    attention: str = "similarity"
    attention_temperature: float = 3.0  # similarity's starting temperature; 10 gave AUC 0.81 but -0.004 NDCG@10
    attention_stop_gradient: bool = True  # scores don't back-propagate into embeddings: measured +0.002 NDCG
    use_genres: bool = True
    genre_weight: float = 0.1  # base weight of the genre term; the adaptive weight scales it per user (cap 0.5)
    use_edge_weight: bool = False  # weight propagation by log-plays; measured: no gain on either dataset
    use_artists: bool | None = None  # None: only when artists group songs (>= 1.5 songs per artist on average)
    item_item: bool = True  # the Enhanced global scale's item-item (EASE) term
    item_item_max_songs: int = 20_000  # exact EASE (top 256 weights per song) up to here, neighbourhood EASE above
    item_item_topk: int | None = None  # None: by size (above); K: neighbourhood EASE with K neighbours per song

    @classmethod
    def basic(cls, **overrides: Any) -> ModelConfig:
        """The Basic GAT: 3 node types, one attention layer, 4 heads, 32 dims (~200K parameters at 6.5K nodes)."""
        base = cls(use_enhanced=False, embedding_dim=32, hidden_dim=32, num_layers=1, use_genres=False,
                   item_item=False)
        return replace(base, **overrides)

    def validate(self) -> ModelConfig:
        _check(self.embedding_dim > 0 and self.hidden_dim > 0, "embedding_dim and hidden_dim must be positive")
        _check(self.num_layers >= 1, f"num_layers must be >= 1 (got {self.num_layers})")
        _check(self.heads >= 1 and self.hidden_dim % self.heads == 0,
               f"hidden_dim ({self.hidden_dim}) must be a positive multiple of heads ({self.heads})")
        _check(0 <= self.dropout < 1, f"dropout must be in [0, 1) (got {self.dropout})")
        _check(self.attention_temperature > 0, f"attention_temperature must be > 0 (got {self.attention_temperature})")
        _check(self.attention in ATTENTION_KINDS,
               f"attention must be one of {', '.join(ATTENTION_KINDS)} (got {self.attention!r})")
        check_genre_weight(self.genre_weight)
        return self


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained. Defaults were chosen on the validation split (see README, Results)."""

    epochs: int = 50
    batch_size: int = 8192  # positives per optimiser step; one full-graph forward per step
    lr: float = 0.01
    weight_decay: float = 1e-4  # L2 on the embeddings of each batch's users and songs, per example
    num_negatives: int = 8  # BPR averaged over several negatives: the largest single gain measured
    weight_by_plays: bool = False  # scale each positive's loss by log-plays
    patience: int = 8  # epochs without a better validation NDCG@10 before stopping
    eval_every: int = 1
    eval_k: int = 10
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 5  # epochs between atomic checkpoints during training (0: only at the end)
    max_seconds: float | None = None  # wall-clock budget; stops like early stopping when exceeded
    minibatch: bool = False  # forward over each batch's sampled L-hop subgraph, not the full graph (large graphs)
    fanout: tuple[int, ...] = (10, 5)  # with minibatch: neighbours sampled per relation at each hop (-1: all)
    eval_users: int = 0  # validation users sampled for early stopping (0: all); final metrics always use all

    def __post_init__(self) -> None:
        object.__setattr__(self, "fanout", tuple(self.fanout))  # a TOML/JSON list compares equal once saved

    def validate(self) -> TrainConfig:
        _check(self.epochs >= 1, f"epochs must be >= 1 (got {self.epochs})")
        _check(len(self.fanout) >= 1 and all(isinstance(f, int) and (f >= 1 or f == -1) for f in self.fanout),
               f"fanout must be one or more integers >= 1 or -1 (got {list(self.fanout)})")
        _check(self.eval_users >= 0, f"eval_users must be >= 0 (got {self.eval_users})")
        _check(self.batch_size >= 1, f"batch_size must be >= 1 (got {self.batch_size})")
        _check(self.lr > 0, f"lr must be > 0 (got {self.lr})")
        _check(self.num_negatives >= 1, f"num_negatives must be >= 1 (got {self.num_negatives})")
        _check(self.patience >= 1 and self.eval_every >= 1, "patience and eval_every must be >= 1")
        return self


@dataclass(frozen=True)
class Config:
    """A model and how to train it; what a --config file holds (sections [model] and [training])."""

    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {"model": asdict(self.model), "training": asdict(self.training)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> Config:
        unknown = set(raw) - {"model", "training"}
        _check(not unknown, f"{source}: unknown section(s) {sorted(unknown)}; expected model and training")
        model_raw = dict(raw.get("model", {}))
        base = ModelConfig() if model_raw.get("use_enhanced", True) else ModelConfig.basic()
        return cls(_merge(base, model_raw, f"{source} [model]"),
                   _merge(TrainConfig(), raw.get("training", {}), f"{source} [training]"))

    @classmethod
    def from_file(cls, path: str | Path) -> Config:
        """Read a JSON or TOML file with optional [model] and [training] sections."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {exc}") from None
        return cls.from_dict(raw, str(path))


def _merge(base: Any, raw: dict[str, Any], source: str) -> Any:
    names = {f.name: f for f in fields(base)}
    unknown = set(raw) - set(names)
    _check(not unknown, f"{source}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    problem = field_type_problem(type(base), raw, source)
    _check(problem is None, str(problem))
    return replace(base, **raw).validate()


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def check_genre_weight(value: float | None) -> float | None:
    """genre_weight is None (adaptive) or a number in [0, 1]."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"genre_weight must be a number in [0, 1] (got {value!r})") from None
    _check(math.isfinite(number) and 0.0 <= number <= 1.0, f"genre_weight must be in [0, 1] (got {value!r})")
    return number


def _fits(value: object, hint: object) -> bool:
    """Whether a plain value (as read from JSON, TOML or a checkpoint) fits a field's type hint."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return isinstance(value, list | tuple) and (not args or all(_fits(v, args[0]) for v in value))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def field_type_problem(cls: type, values: dict[str, Any], source: str) -> str | None:
    """The first key of `values` that `cls` (a config dataclass) lacks or whose value has the wrong type."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    for key, value in values.items():
        if key not in names:
            return f"{source} has the field {key!r}, which this version does not know"
        if not _fits(value, hints[key]):
            hint = hints[key].__name__ if isinstance(hints[key], type) else str(hints[key]).replace("typing.", "")
            return f"{source}.{key} must be {hint} (got {type(value).__name__} {str(value)[:40]!r})"
    return None
