"""``azureml.core.compute``: Azure compute targets, which only Azure's cloud can back (they fail on use with one line)."""

from __future__ import annotations

from mlnb.compat.azureml._cloud_names import AksCompute, AmlCompute, ComputeInstance, ComputeTarget

__all__ = ["AksCompute", "AmlCompute", "ComputeInstance", "ComputeTarget"]
