"""``azureml.core.dataset``: ``Dataset``, over local files."""

from __future__ import annotations

from mlnb.compat.azureml._datasets import Dataset

__all__ = ["Dataset"]
