"""``azureml.core.script_run``: ``ScriptRun``, which only Azure's cloud can back (it fails on use with one line)."""

from __future__ import annotations

from mlnb.compat.azureml._cloud_names import ScriptRun

__all__ = ["ScriptRun"]
