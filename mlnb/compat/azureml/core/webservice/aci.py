"""``azureml.core.webservice.aci``: ``AciWebservice`` (one local service with limits) and its configuration."""

from __future__ import annotations

from mlnb.compat.azureml._configs import AciServiceDeploymentConfiguration
from mlnb.compat.azureml._webservice import AciWebservice

__all__ = ["AciServiceDeploymentConfiguration", "AciWebservice"]
