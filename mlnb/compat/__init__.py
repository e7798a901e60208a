"""Compatibility layers: other SDKs' names, mapped onto mlnb's engine.

:mod:`mlnb.compat.azureml` serves the Azure ML SDK v1 ``azureml`` package tree
(``azureml.core``, ``azureml.core.webservice`` …) once ``import mlnb.azureml`` or
``%load_ext mlnb.azureml`` activated it. It sits above every engine layer and below the
front ends; nothing in the engine imports it.
"""

from __future__ import annotations

__all__: list[str] = []
