"""``azureml.core.resource_configuration``: ``ResourceConfiguration``."""

from __future__ import annotations

from mlnb.compat.azureml._resources import ResourceConfiguration

__all__ = ["ResourceConfiguration"]
