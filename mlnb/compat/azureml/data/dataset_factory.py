"""``azureml.data.dataset_factory``: ``Dataset.Tabular`` and ``Dataset.File``."""

from __future__ import annotations

from mlnb.compat.azureml._datasets import FileDatasetFactory, TabularDatasetFactory

__all__ = ["FileDatasetFactory", "TabularDatasetFactory"]
