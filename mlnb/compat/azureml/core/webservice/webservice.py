"""``azureml.core.webservice.webservice``: ``Webservice`` and the base of deployment configurations."""

from __future__ import annotations

from mlnb.compat.azureml._configs import WebserviceDeploymentConfiguration
from mlnb.compat.azureml._webservice import Webservice

__all__ = ["Webservice", "WebserviceDeploymentConfiguration"]
