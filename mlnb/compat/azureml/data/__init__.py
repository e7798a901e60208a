"""``azureml.data``: tabular and file datasets over local files."""

from __future__ import annotations

from mlnb.compat.azureml._datasets import FileDataset, TabularDataset

__all__ = ["FileDataset", "TabularDataset"]
