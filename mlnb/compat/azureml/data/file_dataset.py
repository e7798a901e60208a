"""``azureml.data.file_dataset``: ``FileDataset``."""

from __future__ import annotations

from mlnb.compat.azureml._datasets import FileDataset

__all__ = ["FileDataset"]
