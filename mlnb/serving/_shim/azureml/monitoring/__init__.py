"""Shim of ``azureml.monitoring``: ``ModelDataCollector`` writes to local files."""

from .modeldatacollector import ModelDataCollector

__all__ = ["ModelDataCollector"]
