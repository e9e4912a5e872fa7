"""Dataset folders: format, loading with validation, default splits, generators and importers.

This package reads files with pandas and pyarrow and never imports torch.
"""

from recsys.data.dataset import Dataset
from recsys.data.load import load_dataset
from recsys.data.split import assign_split

__all__ = ["Dataset", "assign_split", "load_dataset"]
