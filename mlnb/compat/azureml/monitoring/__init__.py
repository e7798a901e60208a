"""``azureml.monitoring``: the serving shim's ``ModelDataCollector`` (into the service's collected Parquet, else JSON lines)."""

from __future__ import annotations

from mlnb.serving._shim.azureml.monitoring.modeldatacollector import ModelDataCollector

__all__ = ["ModelDataCollector"]
