"""``azureml.core.container_registry``: ``ContainerRegistry``."""

from __future__ import annotations

from mlnb.compat.azureml._container_registry import ContainerRegistry

__all__ = ["ContainerRegistry"]
