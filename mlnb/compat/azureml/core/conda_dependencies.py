"""``azureml.core.conda_dependencies``: ``CondaDependencies``."""

from __future__ import annotations

from mlnb.compat.azureml._conda import CondaDependencies

__all__ = ["CondaDependencies"]
