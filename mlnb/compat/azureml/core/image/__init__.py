"""``azureml.core.image``: Azure's retired image API, cloud only (``Model.package`` builds images locally)."""

from __future__ import annotations

from mlnb.compat.azureml._cloud_names import ContainerImage, Image

__all__ = ["ContainerImage", "Image"]
