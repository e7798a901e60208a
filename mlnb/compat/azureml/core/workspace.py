"""``azureml.core.workspace``: see :mod:`mlnb.compat.azureml._workspace` for where the local workspace is."""

from __future__ import annotations

from mlnb.compat.azureml._workspace import Workspace

__all__ = ["Workspace"]
