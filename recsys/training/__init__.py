"""Training (full-graph and mini-batch), calibration, checkpoints."""

from recsys.training.checkpoint import load_checkpoint, save_checkpoint
from recsys.training.restore import Restored, restore
from recsys.training.trainer import TrainResult, prepare_data, train

__all__ = ["Restored", "TrainResult", "load_checkpoint", "prepare_data", "restore", "save_checkpoint", "train"]
