"""``azureml.core.run``: ``Run``, which only Azure's cloud can back (it fails on use with one line)."""

from __future__ import annotations

from mlnb.compat.azureml._cloud_names import Run

__all__ = ["Run"]
