"""``azureml.train.automl``: ``AutoMLConfig``, cloud only (it fails on use with one line)."""

from __future__ import annotations

from mlnb.compat.azureml._cloud_names import AutoMLConfig

__all__ = ["AutoMLConfig"]
