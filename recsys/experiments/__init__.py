"""Experiments above training and evaluation: multi-seed comparisons, the search, paired tests and reports.

``recsys.evaluation`` only ranks and measures; this package trains (through ``recsys.training`` and
``recsys.baselines``), compares and reports, so no package cycle remains.
"""

from recsys.experiments.compare import DEFAULT_GRID, EPOCH_CAP, TrainedModel, compare, load_checkpoints, trial_grid
from recsys.experiments.contenders import ABLATIONS, contender_names, gat_kinds, gat_name
from recsys.experiments.report import (
    TABLE_METRICS,
    format_comparison,
    format_markdown,
    format_table,
    machine_info,
    to_json,
    write_json,
)
from recsys.experiments.stats import paired
from recsys.experiments.topk import baselines_path, store_baselines

__all__ = ["ABLATIONS", "DEFAULT_GRID", "EPOCH_CAP", "TABLE_METRICS", "TrainedModel", "baselines_path", "compare",
           "contender_names", "format_comparison", "format_markdown", "format_table", "gat_kinds", "gat_name",
           "load_checkpoints", "machine_info", "paired", "store_baselines", "to_json", "trial_grid", "write_json"]
