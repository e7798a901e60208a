"""``azureml.contrib.services.aml_response``: the serving runtime's ``AMLResponse``."""

from __future__ import annotations

from mlnb.serving.amlhttp import AMLResponse

__all__ = ["AMLResponse"]
