"""``azureml.contrib.services.aml_request``: the serving runtime's ``AMLRequest`` and ``rawhttp``."""

from __future__ import annotations

from mlnb.serving.amlhttp import AMLRequest, rawhttp

__all__ = ["AMLRequest", "rawhttp"]
