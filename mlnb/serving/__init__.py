"""mlnb's scoring server: runs Azure-style entry scripts (``init()``/``run()``) over HTTP.

The same runtime serves inside Docker images and as a local process::

    python -m mlnb.serving --entry-script score.py --model-dir azureml-models --port 5001

This package imports nothing else from mlnb: images carry it on its own. See
``docs/serving.md`` for the contract (flags, environment, routes, status codes).
"""

from __future__ import annotations

from mlnb.serving.cli import main
from mlnb.serving.model_path import ModelPathNotFound, get_model_path

__all__ = ["ModelPathNotFound", "get_model_path", "main"]
