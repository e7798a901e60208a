"""mlnb: register, deploy, test, profile and package ML models from Jupyter.

The public API mirrors the Azure ML SDK v1 deployment workflow, so notebooks port by
changing imports::

    from mlnb import Workspace, Model
    ws = Workspace.create(path=".")
    model = Model.register(workspace=ws, model_path="model.pkl", model_name="diabetes")
"""

from __future__ import annotations

from mlnb.client import ScoreResult, ScoringClient, replay, score, score_frame
from mlnb.config import DeploymentConfiguration, InferenceConfig, LocalWebservice, ResourceConfiguration
from mlnb.environment import Environment
from mlnb.errors import MlnbError
from mlnb.models import Model, ModelList
from mlnb.package import ModelPackage
from mlnb.service import Webservice
from mlnb.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "DeploymentConfiguration",
    "Environment",
    "InferenceConfig",
    "LocalWebservice",
    "MlnbError",
    "Model",
    "ModelList",
    "ModelPackage",
    "ResourceConfiguration",
    "ScoreResult",
    "ScoringClient",
    "Webservice",
    "Workspace",
    "__version__",
    "replay",
    "score",
    "score_frame",
]
