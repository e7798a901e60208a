"""``azureml.core.model``: ``Model``, ``InferenceConfig``, ``ModelPackage``."""

from __future__ import annotations

from mlnb.compat.azureml._inference import InferenceConfig
from mlnb.compat.azureml._model import Model
from mlnb.compat.azureml._package import ModelPackage

__all__ = ["InferenceConfig", "Model", "ModelPackage"]
