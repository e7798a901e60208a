"""Shim of ``azureml.core.model``: ``Model.get_model_path`` inside a service."""

from __future__ import annotations

from typing import Any

from mlnb.serving.model_path import get_model_path as _get_model_path

__all__ = ["Model"]


class Model:
    """The part of Azure's ``Model`` an entry script uses inside a deployed service."""

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Any = None) -> str:
        """Return the deployed path of ``model_name`` (see ``mlnb.serving.model_path``)."""
        return _get_model_path(model_name, version)
