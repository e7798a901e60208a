"""``azureml.core.profile``: ``ModelProfile``."""

from __future__ import annotations

from mlnb.compat.azureml._profile import ModelProfile

__all__ = ["ModelProfile"]
