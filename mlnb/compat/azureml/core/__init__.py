"""``azureml.core``: workspaces, models, environments, datasets and services, over mlnb.

``VERSION`` is the azureml-core version whose surface mlnb reproduces.
"""

from __future__ import annotations

from mlnb.compat.azureml._cloud_names import (
    ComputeTarget,
    Datastore,
    Experiment,
    Image,
    Keyvault,
    Run,
    RunConfiguration,
    ScriptRun,
    ScriptRunConfig,
)
from mlnb.compat.azureml._container_registry import ContainerRegistry
from mlnb.compat.azureml._datasets import Dataset
from mlnb.compat.azureml._environment import Environment
from mlnb.compat.azureml._model import Model
from mlnb.compat.azureml._webservice import Webservice
from mlnb.compat.azureml._workspace import Workspace

VERSION = "1.61.0"
__version__ = VERSION

__all__ = [
    "ComputeTarget",
    "ContainerRegistry",
    "Dataset",
    "Datastore",
    "Environment",
    "Experiment",
    "Image",
    "Keyvault",
    "Model",
    "Run",
    "RunConfiguration",
    "ScriptRun",
    "ScriptRunConfig",
    "VERSION",
    "Webservice",
    "Workspace",
]
