"""Shim of ``azureml.contrib.services.aml_response``."""

from mlnb.serving.amlhttp import AMLResponse

__all__ = ["AMLResponse"]
