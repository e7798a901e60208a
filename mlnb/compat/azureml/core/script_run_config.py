"""``azureml.core.script_run_config``: ``ScriptRunConfig``, which only Azure's cloud can back (it fails on use with one line)."""

from __future__ import annotations

from mlnb.compat.azureml._cloud_names import ScriptRunConfig

__all__ = ["ScriptRunConfig"]
