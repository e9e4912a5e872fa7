"""What an experiment compares: GATs, baselines and the attention-off ablation, each fitted by its family.

A family trains one model per trial (a learning rate and an L2 strength) and yields every contender built on it:
the ``lightgcn`` family yields ``lightgcn`` and the blend ``lightgcn+ease`` from the same trained LightGCN,
so both get the same trials. Contenders that train nothing (``popularity``; ``ease``, whose lambda is tuned
inside its fit) have a single trial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from torch_geometric.data import HeteroData

from recsys.baselines import BASELINES, LABELS, EASEBlend, EmbeddingBaseline, baseline_names
from recsys.config import Config, ModelConfig, TrainConfig
from recsys.data import Dataset
from recsys.errors import ConfigError
from recsys.evaluation import RankingTask, ScoreFn
from recsys.training import train

GAT_CONFIGS: dict[str, Callable[[], ModelConfig]] = {"basic": ModelConfig.basic, "enhanced": ModelConfig}
ABLATIONS: dict[str, dict[str, Any]] = {"enhanced_noattn": {"attention": "none"}}  # overrides of the Enhanced config
LABELS_ALL = {**LABELS, "basic_gat": "Basic GAT", "enhanced_gat": "Enhanced GAT",
              "enhanced_noattn": "Enhanced GAT, attention off (fixed LightGCN normalisation)"}


def gat_name(model_type: str) -> str:
    """Report name of a GAT kind: ``basic`` -> ``basic_gat``."""
    return f"{model_type}_gat"


def gat_kinds(spec: str | Sequence[str]) -> list[str]:
    """Validated GAT kinds to train fresh, from ``"basic,enhanced"`` or a list."""
    kinds = [k.strip() for k in (spec.split(",") if isinstance(spec, str) else spec) if k.strip()]
    unknown = [k for k in kinds if k not in GAT_CONFIGS]
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(map(repr, unknown))}; known: {', '.join(GAT_CONFIGS)}")
    return list(dict.fromkeys(kinds))


def contender_names(spec: str | Sequence[str]) -> list[str]:
    """Validated ``--baselines`` names: the baselines' registry plus the ablations; ``all`` and ``none`` too."""
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    if names == ["all"]:
        return [*BASELINES, *ABLATIONS]
    ablations = [n for n in names if n in ABLATIONS]
    try:
        return [*baseline_names([n for n in names if n not in ABLATIONS]), *dict.fromkeys(ablations)]
    except ConfigError:
        unknown = [n for n in names if n not in BASELINES and n not in ABLATIONS]
        raise ConfigError(f"unknown baseline(s) {', '.join(map(repr, unknown))}; known: "
                          f"{', '.join([*BASELINES, *ABLATIONS])} (or all, none)") from None


@dataclass(frozen=True)
class Trial:
    """One point of the search: the training recipe's learning rate and L2 strength."""

    lr: float
    weight_decay: float

    def apply(self, config: TrainConfig) -> TrainConfig:
        return replace(config, lr=self.lr, weight_decay=self.weight_decay)


@dataclass(frozen=True)
class SeedData:
    """One seed's split, its training graph and its validation task."""

    seed: int
    split: Dataset
    graph: HeteroData
    valid: RankingTask


@dataclass
class Fitted:
    """A contender fitted on one seed under one trial: its scores, validation NDCG@10 and what it chose."""

    name: str
    score: ScoreFn
    valid_ndcg: float
    train_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)  # lr, weight_decay, stopping epoch, lambda, beta, ...


@dataclass(frozen=True)
class Family:
    """Contenders trained together (one model per trial).

    Attributes:
        key: family name (``lightgcn``, ``enhanced``, ...).
        members: contender names it can yield.
        trainable: whether it has an lr x L2 search (else one trial).
        fit: (trial or None, seed data, train config, wanted names, log) -> the fitted contenders, one at a time.
    """

    key: str
    members: tuple[str, ...]
    trainable: bool
    fit: Callable[[Trial | None, SeedData, TrainConfig, set[str], Callable[[str], None]], Iterator[Fitted]]


def _recipe(trial: Trial | None, config: TrainConfig) -> dict[str, Any]:
    return {"lr": config.lr, "weight_decay": config.weight_decay, "epoch_cap": config.epochs,
            "patience": config.patience, "tuned": trial is not None}


def _stateless(name: str) -> Family:
    def fit(trial: Trial | None, data: SeedData, config: TrainConfig, wanted: set[str],
            log: Callable[[str], None]) -> Iterator[Fitted]:
        baseline = BASELINES[name]().fit(data.graph, data.valid, config)
        valid = baseline.details.get(f"valid_ndcg@{config.eval_k}", float("nan"))
        yield Fitted(name, baseline.score, valid, baseline.train_seconds, dict(baseline.details))

    return Family(name, (name,), False, fit)


def _embedding(name: str) -> Family:
    def fit(trial: Trial | None, data: SeedData, config: TrainConfig, wanted: set[str],
            log: Callable[[str], None]) -> Iterator[Fitted]:
        config = trial.apply(config) if trial else config
        inner = BASELINES[name]()
        assert isinstance(inner, EmbeddingBaseline)
        inner.fit(data.graph, data.valid, config)
        settings = {**_recipe(trial, config), **inner.details, "stopped": inner.stopped}
        if name in wanted:
            yield Fitted(name, inner.score, inner.details[f"valid_ndcg@{config.eval_k}"], inner.train_seconds,
                         settings)
        if f"{name}+ease" in wanted:
            blend = EASEBlend(inner).fit(data.graph, data.valid, config)
            yield Fitted(blend.name, blend.score, blend.choice.valid_ndcg, blend.train_seconds,
                         {**settings, **blend.choice.details()})

    return Family(name, (name, f"{name}+ease"), True, fit)


def _gat(name: str, model_config: ModelConfig, base: TrainConfig | None = None) -> Family:
    """A GAT family; ``base`` fixes the recipe (an ablation of a checkpoint: its training config, no search)."""

    def fit(trial: Trial | None, data: SeedData, config: TrainConfig, wanted: set[str],
            log: Callable[[str], None]) -> Iterator[Fitted]:
        if base is not None:
            config = replace(base, seed=config.seed)
        config = trial.apply(config) if trial else config
        result = train(data.split, Config(model_config, config), out=None, progress=False, log=lambda _: None)
        state = result.state
        settings = {**_recipe(trial, config), "epochs": state.epoch, "best_epoch": state.best_epoch,
                    "s_per_epoch": state.seconds / max(1, state.epoch), "stopped": result.stopped,
                    "attention": model_config.attention, **result.calibration}
        yield Fitted(name, result.model.prepare(result.graph).scores, result.valid[f"ndcg@{config.eval_k}"],
                     result.train_seconds, settings)

    return Family(name, (name,), base is None, fit)


def families(fresh: Sequence[str], names: Sequence[str], ablation_base: tuple[ModelConfig, TrainConfig] | None
             ) -> list[Family]:
    """The families that produce the fresh GATs and the named contenders, in a stable order.

    Args:
        ablation_base: the Enhanced checkpoint's model and training configs, when one is evaluated: its
            ablation is that model with attention off and the same recipe (no search). None: ModelConfig(),
            searched like every trainable contender.
    """
    out: list[Family] = [_gat(gat_name(kind), GAT_CONFIGS[kind]()) for kind in fresh]
    for name in names:
        if name in ABLATIONS:
            model, recipe = ablation_base if ablation_base else (ModelConfig(), None)
            out.append(_gat(name, replace(model, **ABLATIONS[name]), recipe))
        elif name.endswith("+ease"):
            continue  # yielded by the inner model's family
        elif isinstance(BASELINES[name], type) and issubclass(BASELINES[name], EmbeddingBaseline):
            out.append(_embedding(name))
        else:
            out.append(_stateless(name))
    for name in names:
        inner = name.removesuffix("+ease")
        if name.endswith("+ease") and inner not in names:
            out.append(_embedding(inner))
    return out
