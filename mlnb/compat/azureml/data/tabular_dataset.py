"""``azureml.data.tabular_dataset``: ``TabularDataset``."""

from __future__ import annotations

from mlnb.compat.azureml._datasets import TabularDataset

__all__ = ["TabularDataset"]
