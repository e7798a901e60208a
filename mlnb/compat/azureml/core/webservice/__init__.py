"""``azureml.core.webservice``: service handles and their deployment configurations."""

from __future__ import annotations

from mlnb.compat.azureml._webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice

__all__ = ["AciWebservice", "AksWebservice", "LocalWebservice", "Webservice"]
