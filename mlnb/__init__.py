"""mlnb: register, deploy, test, profile and package ML models from Jupyter.

The public API mirrors the Azure ML SDK v1 deployment workflow, so notebooks port by
changing imports::

    from mlnb import Workspace, Model
    ws = Workspace.create(path=".")
    model = Model.register(workspace=ws, model_path="model.pkl", model_name="diabetes")
"""

from __future__ import annotations

import typing

from mlnb.client import ScoreResult, ScoringClient, replay, score, score_frame
from mlnb.config import DeploymentConfiguration, InferenceConfig, LocalWebservice, ResourceConfiguration
from mlnb.environment import Environment
from mlnb.errors import MlnbError
from mlnb.models import Model, ModelList
from mlnb.package import ModelPackage
from mlnb.profiling import ModelProfile, profile_service
from mlnb.service import Webservice
from mlnb.workspace import Workspace

if typing.TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__version__ = "0.1.0"


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext mlnb``: register the magics (``%deploy``, ``%%score_script``, …)."""
    from mlnb.magics import load

    load(ipython)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """``%unload_ext mlnb``: remove the magics."""
    from mlnb.magics import unload

    unload(ipython)


__all__ = [
    "DeploymentConfiguration",
    "Environment",
    "InferenceConfig",
    "LocalWebservice",
    "MlnbError",
    "Model",
    "ModelList",
    "ModelPackage",
    "ModelProfile",
    "ResourceConfiguration",
    "ScoreResult",
    "ScoringClient",
    "Webservice",
    "Workspace",
    "__version__",
    "load_ipython_extension",
    "profile_service",
    "replay",
    "score",
    "score_frame",
    "unload_ipython_extension",
]
