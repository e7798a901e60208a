"""``azureml.data.dataset_type_definitions``: ``PromoteHeadersBehavior``."""

from __future__ import annotations

from mlnb.compat.azureml._datasets import PromoteHeadersBehavior

__all__ = ["PromoteHeadersBehavior"]
