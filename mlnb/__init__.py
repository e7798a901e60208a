"""mlnb: register, deploy, test, profile and package ML models from Jupyter.

The public API mirrors the Azure ML SDK v1 deployment workflow, so notebooks port by
changing imports::

    from mlnb import Workspace, Model
    ws = Workspace.create(path=".")
    model = Model.register(workspace=ws, model_path="model.pkl", model_name="diabetes")

The names below load on first use (PEP 562): ``import mlnb.serving``, which runs inside
every service, loads no engine module, and ``import mlnb`` alone loads nothing else.
"""

from __future__ import annotations

import importlib
import typing

from mlnb._version import __version__

if typing.TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from mlnb._facade import Model
    from mlnb.client import ScoreResult, ScoringClient, replay, score, score_frame
    from mlnb.config import DeploymentConfiguration, Environment, InferenceConfig, LocalWebservice
    from mlnb.deploy import Webservice
    from mlnb.errors import MlnbError
    from mlnb.image import ModelPackage
    from mlnb.profiling import ModelProfile, profile_service
    from mlnb.registry import ModelList, ResourceConfiguration, Workspace

# Public name -> the module that defines it.
_EXPORTS = {
    "DeploymentConfiguration": "mlnb.config",
    "Environment": "mlnb.config",
    "InferenceConfig": "mlnb.config",
    "LocalWebservice": "mlnb.config",
    "MlnbError": "mlnb.errors",
    "Model": "mlnb._facade",
    "ModelList": "mlnb.registry",
    "ModelPackage": "mlnb.image",
    "ModelProfile": "mlnb.profiling",
    "ResourceConfiguration": "mlnb.registry",
    "ScoreResult": "mlnb.client",
    "ScoringClient": "mlnb.client",
    "Webservice": "mlnb.deploy",
    "Workspace": "mlnb.registry",
    "profile_service": "mlnb.profiling",
    "replay": "mlnb.client",
    "score": "mlnb.client",
    "score_frame": "mlnb.client",
}


def __getattr__(name: str) -> typing.Any:
    """Load a public name from its module on first use, and keep it."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


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
