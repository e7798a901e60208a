"""Shim of ``azureml.contrib.services.aml_request``."""

from mlnb.serving.amlhttp import AMLRequest, rawhttp

__all__ = ["AMLRequest", "rawhttp"]
