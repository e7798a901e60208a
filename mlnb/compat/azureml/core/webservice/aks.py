"""``azureml.core.webservice.aks``: ``AksWebservice`` and its configuration (kept; see ``to_kube_spec``)."""

from __future__ import annotations

from mlnb.compat.azureml._configs import AksServiceDeploymentConfiguration
from mlnb.compat.azureml._webservice import AksWebservice

__all__ = ["AksServiceDeploymentConfiguration", "AksWebservice"]
