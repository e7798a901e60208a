"""``azureml.widgets``: ``RunDetails``, cloud only (``%mlnb`` is mlnb's dashboard)."""

from __future__ import annotations

from mlnb.compat.azureml._cloud_names import RunDetails

__all__ = ["RunDetails"]
