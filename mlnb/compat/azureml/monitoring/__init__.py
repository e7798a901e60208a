"""``azureml.monitoring``: the serving shim's ``ModelDataCollector`` (it writes JSON lines locally)."""

from __future__ import annotations

from mlnb.serving._shim.azureml.monitoring.modeldatacollector import ModelDataCollector

__all__ = ["ModelDataCollector"]
