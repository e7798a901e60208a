"""``azureml.core.webservice.local``: ``LocalWebservice`` and its deployment configuration."""

from __future__ import annotations

from mlnb.compat.azureml._configs import LocalWebserviceDeploymentConfiguration
from mlnb.compat.azureml._webservice import LocalWebservice

__all__ = ["LocalWebservice", "LocalWebserviceDeploymentConfiguration"]
