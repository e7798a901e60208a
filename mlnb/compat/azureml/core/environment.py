"""``azureml.core.environment``: ``Environment`` and its sections."""

from __future__ import annotations

from mlnb.compat.azureml._environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, DockerSection, Environment, PythonSection

__all__ = ["DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE", "DockerSection", "Environment", "PythonSection"]
