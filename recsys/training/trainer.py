"""Training: BPR over several negatives, one full-graph forward per large batch, early stopping on validation.

`train` is the whole recipe from a dataset to a calibrated, evaluated model and its checkpoint; `fit` is the
optimisation loop alone, resumable from a checkpoint's training state.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from recsys.config import Config, TrainConfig
from recsys.data import Dataset, assign_split
from recsys.errors import CheckpointError, ConfigError
from recsys.evaluation import CatalogueStats, RankingTask, evaluate_scores, ndcg_at, ranking_task
from recsys.graph import LISTENS, SONG_GENRE, build_graph
from recsys.models import GATRecommender, build_model, estimate_memory_usage
from recsys.models.losses import bpr_loss, l2_penalty
from recsys.sparse import pairs_to_csr, row_normalised
from recsys.training.calibrate import calibrate
from recsys.training.checkpoint import load_checkpoint, save_checkpoint
from recsys.training.minibatch import minibatch_trainable
from recsys.training.sampling import NegativeSampler
from recsys.training.trainable import Collectives, Trainable, gat_trainable, make_optimizer

EVAL_KS = [10, 20]


@dataclass
class TrainState:
    """Everything needed to continue an interrupted run exactly where it stopped."""

    epoch: int = 0
    best_epoch: int = 0
    best_metric: float = -math.inf
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_weights: dict[str, Tensor] | None = None
    seconds: float = 0.0


@dataclass
class TrainResult:
    """A trained model with its graph, curves and metrics."""

    model: GATRecommender
    graph: HeteroData
    dataset: Dataset
    config: Config
    split_rule: str
    state: TrainState
    stopped: str
    valid: dict[str, float]
    test: dict[str, float]
    calibration: dict[str, float]
    train_seconds: float  # the optimisation loop plus calibration (the item-item fits)


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)


def split_fingerprint(dataset: Dataset) -> str:
    """A short hash of the split labels, to check that a service rebuilds the split a model was trained on."""
    labels = dataset.interactions["split"].to_numpy(dtype=str)
    return hashlib.sha256("\n".join(labels).encode()).hexdigest()[:16]


def catalogue_stats(graph: HeteroData) -> CatalogueStats:
    listens = graph[LISTENS].edge_index
    num_songs, num_users = graph["song"].num_nodes, graph["user"].num_nodes
    popularity = torch.bincount(listens[1], minlength=num_songs)
    song_genre = None
    if SONG_GENRE in graph.edge_types:
        song_genre = row_normalised(pairs_to_csr(graph[SONG_GENRE].edge_index, num_songs, graph["genre"].num_nodes,
                                                 graph[SONG_GENRE].edge_weight))
    return CatalogueStats(popularity, num_users, song_genre)


FULL_GRAPH_MEMORY_FACTOR = 3.5  # measured RSS of a full-graph step over estimate_memory_usage: ~3x at 20K songs


def full_graph_fits(model: GATRecommender, graph: HeteroData, device: str = "cpu") -> bool:
    """Whether a full-graph training step is expected to fit in the memory free now (CPU RAM or the GPU's)."""
    num_edges = sum(graph[et].edge_index.size(1) for et in model.edge_types if et in graph.edge_types)
    n = model.num_nodes
    needed = estimate_memory_usage(n["user"], n["song"], n["artist"], n["genre"], model.embedding_dim,
                                   model.num_layers, model.heads, model.hidden_dim, model.uses_genres,
                                   num_edges=num_edges, training=True) * FULL_GRAPH_MEMORY_FACTOR * 2**20
    if torch.device(device).type == "cuda":
        return needed < torch.cuda.mem_get_info()[0]
    import psutil

    return needed < psutil.virtual_memory().available


def make_trainable(model: GATRecommender, graph: HeteroData, tc: TrainConfig,
                   log: Callable[[str], None] = print) -> Trainable:
    """Full-graph training, or training on sampled subgraphs (`recsys.training.minibatch`) with ``tc.minibatch``
    or when a full-graph step would not fit in memory."""
    if not tc.minibatch and full_graph_fits(model, graph, tc.device):
        return gat_trainable(model, graph)
    if not tc.minibatch:
        log(f"the full graph does not fit in free memory: training on sampled subgraphs (fanout {list(tc.fanout)})")
    return minibatch_trainable(model, graph, tc.fanout, seed=tc.seed)


def early_stopping_task(valid: RankingTask, tc: TrainConfig) -> RankingTask:
    """The validation users early stopping ranks for: all, or a fixed sample of ``tc.eval_users`` (large data)."""
    if not tc.eval_users or tc.eval_users >= len(valid.users):
        return valid
    chosen = torch.randperm(len(valid.users), generator=torch.Generator().manual_seed(tc.seed))[:tc.eval_users]
    keep = torch.zeros(len(valid.users), dtype=torch.bool)
    keep[chosen] = True
    return valid.subset(keep)


def fit(trainable: Trainable, positives: Tensor, num_songs: int, valid: RankingTask, tc: TrainConfig,
        generator: torch.Generator, state: TrainState | None = None, optimizer_state: dict | None = None,
        on_checkpoint: Callable[[TrainState, torch.optim.Optimizer], None] | None = None,
        progress: bool = True, play_weight: Tensor | None = None,
        dist: Collectives | None = None) -> tuple[TrainState, str]:
    """Optimise until early stopping, the epoch limit or the time budget; restores the best weights.

    Each step: one forward over the full training graph (or the batch's sampled subgraph when the trainable
    has ``gather``), BPR on a batch of positives with ``num_negatives`` negatives each, L2 on the ego
    embeddings of the batch's distinct users and songs. After every ``eval_every`` epochs: validation NDCG@k
    of the embeddings. With ``dist`` (DDP, `recsys.training.distributed`) each rank takes its share of every
    batch, and the loss, the metric and the clock are reduced across ranks so all ranks stop together.
    """
    state = state or TrainState()
    module = trainable.module
    device = torch.device(tc.device)
    sampler = NegativeSampler(positives, num_songs, generator)
    optimizer = make_optimizer(trainable, tc.lr)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    use_plays = tc.weight_by_plays and play_weight is not None
    play_weight = torch.log1p(play_weight).to(device) if use_plays else None
    stopped = "max-epochs"
    bar = tqdm(total=tc.epochs, initial=state.epoch, desc="train", unit="epoch", disable=not progress, leave=False)
    started = time.perf_counter() - state.seconds
    while state.epoch < tc.epochs:
        module.train()
        if dist is None:
            order, batch_size = torch.randperm(positives.size(1), generator=generator), tc.batch_size
        else:
            order, batch_size = dist.epoch_order(positives.size(1), state.epoch), dist.local_batch(tc.batch_size)
        losses = []
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            users, songs = positives[0, batch], positives[1, batch]
            negatives, valid_neg = sampler.sample(users, tc.num_negatives)
            users, songs, negatives = users.to(device), songs.to(device), negatives.to(device)
            pos, neg = trainable.batch_scores(users, songs, negatives)  # [B], [B, n]
            weight = play_weight[batch] if play_weight is not None else None
            loss = bpr_loss(pos, neg, weight, valid_neg.to(device).float())
            ego_user, ego_song = trainable.ego_rows(torch.unique(users),
                                                    torch.unique(torch.cat([songs, negatives.flatten()])))
            reg = l2_penalty(ego_user, ego_song, batch_size=len(batch))
            optimizer.zero_grad(set_to_none=True)
            (loss + tc.weight_decay * reg).backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            if tc.max_seconds is not None and _elapsed(started, dist) >= tc.max_seconds:
                break  # one epoch of a large graph can outlast the budget: stop mid-epoch, still validate
        state.epoch += 1
        loss_mean = float(np.mean(losses)) if dist is None else dist.mean(float(np.mean(losses)))
        record: dict[str, float] = {"epoch": state.epoch, "loss": loss_mean}
        if len(losses) < math.ceil(len(order) / batch_size):
            record["epoch_fraction"] = len(losses) / math.ceil(len(order) / batch_size)
        if state.epoch % tc.eval_every == 0 or state.epoch == tc.epochs:
            metric = (ndcg_at if dist is None else dist.ndcg)(trainable.frozen_scorer(), valid, tc.eval_k)
            record[f"valid_ndcg@{tc.eval_k}"] = metric
            if metric > state.best_metric:
                state.best_metric, state.best_epoch, state.bad_epochs = metric, state.epoch, 0
                state.best_weights = {k: v.detach().clone() for k, v in module.state_dict().items()
                                      if isinstance(v, Tensor)}
            else:
                state.bad_epochs += tc.eval_every
        state.seconds = _elapsed(started, dist)
        record["seconds"] = state.seconds
        state.history.append(record)
        bar.update(1)
        bar.set_postfix(loss=f"{record['loss']:.4f}", ndcg=f"{record.get(f'valid_ndcg@{tc.eval_k}', math.nan):.4f}",
                        best=state.best_epoch)
        if state.bad_epochs >= tc.patience:
            stopped = "early-stop"
            break
        if tc.max_seconds is not None and state.seconds >= tc.max_seconds:
            stopped = "time-budget"
            break
        if on_checkpoint is not None and tc.checkpoint_every and state.epoch % tc.checkpoint_every == 0:
            on_checkpoint(state, optimizer)
    bar.close()
    if state.best_weights is not None:
        module.load_state_dict(state.best_weights, strict=False)
    return state, stopped


def _elapsed(started: float, dist: Collectives | None) -> float:
    """Seconds since ``started``; under DDP the slowest rank's, so that a time budget stops all ranks together."""
    seconds = time.perf_counter() - started
    return seconds if dist is None else dist.max(seconds)


def prepare_data(dataset: Dataset, seed: int) -> tuple[Dataset, str]:
    """Assign the default split if needed and check there is something to train and validate on."""
    dataset, rule = assign_split(dataset, seed)
    counts = dataset.interactions["split"].value_counts()
    if counts.get("train", 0) == 0:
        raise ConfigError("no training interactions: every interaction is in valid or test")
    if counts.get("valid", 0) == 0:
        raise ConfigError("no validation interactions: early stopping needs a valid split "
                          "(too few interactions per user for the default split?)")
    if dataset.interactions["user_id"].nunique() < 2 or dataset.interactions["track_id"].nunique() < 2:
        raise ConfigError("training needs at least 2 users and 2 songs with interactions")
    return dataset, rule


def checkpoint_payload(result_like: dict[str, Any]) -> dict[str, Any]:
    """The plain-data dict stored on disk (see recsys.training.checkpoint)."""
    model: GATRecommender = result_like["model"]
    dataset: Dataset = result_like["dataset"]
    config: Config = result_like["config"]
    return {
        "model_type": "enhanced" if config.model.use_enhanced else "basic",
        "model_config": asdict(config.model),
        "train_config": asdict(config.training),
        "num_nodes": dict(model.num_nodes),
        "state_dict": {k: v.cpu() if isinstance(v, Tensor) else v for k, v in result_like["weights"].items()},
        "dataset": {"path": str(dataset.path) if dataset.path else "", "fingerprint": dataset.fingerprint,
                    "split_rule": result_like["split_rule"], "split_seed": config.training.seed,
                    "split_fingerprint": split_fingerprint(dataset)},
        "id_maps": result_like["graph"].id_maps.state(),
        "metrics": result_like.get("metrics", {}),
        "history": result_like["state"].history,
        "train": {"seconds": result_like["state"].seconds, "epochs": result_like["state"].epoch,
                  "best_epoch": result_like["state"].best_epoch, "stopped": result_like.get("stopped", "running")},
        "complete": result_like.get("complete", False),
        **({"training_state": result_like["training_state"]} if "training_state" in result_like else {}),
    }


def _training_state_dict(state: TrainState, optimizer: Any, model: GATRecommender,
                         generator: torch.Generator) -> dict[str, Any]:
    return {"epoch": state.epoch, "best_epoch": state.best_epoch, "best_metric": state.best_metric,
            "bad_epochs": state.bad_epochs, "seconds": state.seconds,
            "current_weights": {k: v.detach().clone() for k, v in model.state_dict().items()
                                if isinstance(v, Tensor)},
            "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
            "sampler_rng": generator.get_state()}


def progress_writer(base: dict[str, Any], out: str | Path, generator: torch.Generator | None
                    ) -> Callable[[TrainState, Any], None]:
    """The ``on_checkpoint`` callback of `fit`: an intermediate checkpoint (best weights so far) at ``out``.

    With ``generator`` (the run's negative-sampling random source) it also holds everything `--resume` needs.
    """
    model = base["model"]

    def write(current: TrainState, optimizer: Any) -> None:
        extra = {} if generator is None else {
            "training_state": _training_state_dict(current, optimizer, model, generator)}
        save_checkpoint(checkpoint_payload({**base, "state": current,
                                            "weights": current.best_weights or model.state_dict(), **extra}), out)

    return write


def _resume(path: Path, dataset: Dataset, config: Config, model: GATRecommender,
            generator: torch.Generator) -> tuple[TrainState, dict | None]:
    payload = load_checkpoint(path)
    if payload["dataset"]["fingerprint"] != dataset.fingerprint:
        raise CheckpointError(f"cannot resume from {path}: it was trained on other data "
                              f"(fingerprint {payload['dataset']['fingerprint']} != {dataset.fingerprint})")
    if payload["model_config"] != asdict(config.model) or payload["train_config"] != asdict(config.training):
        raise CheckpointError(f"cannot resume from {path}: its model or training config differs from this run's")
    saved = payload.get("training_state")
    if saved is None:
        raise CheckpointError(f"{path} holds a finished run (nothing to resume); train to another --out")
    model.load_state_dict(saved["current_weights"], strict=False)
    torch.set_rng_state(saved["torch_rng"])
    generator.set_state(saved["sampler_rng"])
    state = TrainState(epoch=saved["epoch"], best_epoch=saved["best_epoch"], best_metric=saved["best_metric"],
                       bad_epochs=saved["bad_epochs"], history=list(payload["history"]),
                       best_weights=payload["state_dict"], seconds=saved["seconds"])
    return state, saved["optimizer"]


def train(dataset: Dataset, config: Config, out: str | Path | None = None, resume: bool = False,
          progress: bool = True, log: Callable[[str], None] = print) -> TrainResult:
    """Split, build the training graph, fit, calibrate, evaluate on valid and test, and write the checkpoint."""
    config.model.validate()
    config.training.validate()
    dataset, rule = prepare_data(dataset, config.training.seed)
    log(f"split: {rule}; {dataset.summary()}")
    generator = seed_everything(config.training.seed)
    graph = build_graph(dataset, "train")
    num_nodes = {t: graph[t].num_nodes for t in graph.node_types}
    model = build_model(config.model, num_nodes).to(config.training.device)
    maps = graph.id_maps
    valid, test = ranking_task(dataset, maps, "valid"), ranking_task(dataset, maps, "test")
    state, optimizer_state = None, None
    if resume:
        if out is None or not Path(out).is_file():
            raise CheckpointError(f"--resume: no checkpoint to resume at {out}")
        state, optimizer_state = _resume(Path(out), dataset, config, model, generator)
        log(f"resuming at epoch {state.epoch} (best so far: epoch {state.best_epoch})")
    base = {"model": model, "dataset": dataset, "config": config, "graph": graph, "split_rule": rule}
    state, stopped = fit(make_trainable(model, graph, config.training, log), graph[LISTENS].edge_index,
                         graph["song"].num_nodes, early_stopping_task(valid, config.training),
                         config.training, generator, state, optimizer_state,
                         progress_writer(base, out, generator) if out is not None else None, progress,
                         graph[LISTENS].plays)
    return finish(base, state, stopped, valid, test, out, log)


def finish(base: dict[str, Any], state: TrainState, stopped: str, valid: RankingTask, test: RankingTask,
           out: str | Path | None, log: Callable[[str], None], extra_metrics: dict[str, Any] | None = None
           ) -> TrainResult:
    """After the loop: calibrate, evaluate on valid and test, write the final checkpoint, return the result.

    ``base`` holds model, dataset, config, graph and split_rule (as for `checkpoint_payload`).
    """
    model, graph = base["model"], base["graph"]
    started = time.perf_counter()
    calibration = calibrate(model, graph, base["dataset"], valid, base["config"])
    calibration["seconds"] = time.perf_counter() - started  # the closed-form fits count as training time
    stats = catalogue_stats(graph)
    scorer = model.prepare(graph)
    valid_metrics = evaluate_scores(scorer.scores, valid, EVAL_KS, stats)
    test_metrics = evaluate_scores(scorer.scores, test, EVAL_KS, stats)
    log(f"stopped: {stopped} after {state.epoch} epochs (best {state.best_epoch}) in {state.seconds:.1f}s; "
        f"valid ndcg@10 {valid_metrics['ndcg@10']:.4f}, test ndcg@10 {test_metrics['ndcg@10']:.4f}")
    if out is not None:
        save_checkpoint(checkpoint_payload({
            **base, "state": state, "weights": model.state_dict(), "stopped": stopped, "complete": True,
            "metrics": {"valid": valid_metrics, "test": test_metrics, "calibration": calibration,
                        **(extra_metrics or {})}}), out)
    return TrainResult(model, graph, base["dataset"], base["config"], base["split_rule"], state, stopped,
                       valid_metrics, test_metrics, calibration, state.seconds + calibration["seconds"])
