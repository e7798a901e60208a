"""``import mlnb.azureml`` (or ``%load_ext mlnb.azureml``): run Azure ML SDK v1 code on mlnb.

The one line a ported notebook adds before its own imports::

    import mlnb.azureml                       # in IPython/Jupyter: %load_ext mlnb.azureml
    from azureml.core import Workspace, Model, Environment
    from azureml.core.webservice import LocalWebservice

From then on the ``azureml`` names are mlnb's (:mod:`mlnb.compat.azureml`), unless the real
``azureml-core`` is installed: then one warning line says so and nothing changes.
What each name does locally, and what only Azure's cloud can do: docs/porting.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlnb.compat.azureml._cloud import AzureCloudOnly
from mlnb.compat.azureml._hook import activate, deactivate, is_active
from mlnb.compat.azureml._notes import AzureMLCompatWarning

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = [
    "AzureCloudOnly",
    "AzureMLCompatWarning",
    "activate",
    "deactivate",
    "is_active",
    "load_ipython_extension",
    "unload_ipython_extension",
]

activate()


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext mlnb.azureml``: importing this module already activated the layer."""
    activate()


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """``%unload_ext mlnb.azureml``: stop serving ``azureml``."""
    deactivate()
