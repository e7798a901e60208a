"""``azureml.core.resource_configuration.ResourceConfiguration``: mlnb's, plus Azure's ``gpu``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlnb.compat.azureml._notes import note
from mlnb.registry import ResourceConfiguration as LocalResourceConfiguration

__all__ = ["ResourceConfiguration"]


@dataclass(frozen=True)
class ResourceConfiguration(LocalResourceConfiguration):
    """CPU cores, memory and GPUs a model needs; mlnb's own, so the registry stores it as is.

    Args:
        cpu: CPU cores, a positive number.
        memory_in_gb: memory in GB, a positive number.
        gpu: GPUs; there are none locally, so a value is kept but noted as unused.
    """

    gpu: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gpu:
            note("ResourceConfiguration: gpu has no local meaning (services run on CPU); kept but unused")

    def serialize(self) -> dict[str, Any]:
        """Azure's JSON form: ``{"cpu", "memoryInGB", "gpu"}``."""
        return {**super().serialize(), "gpu": self.gpu}

    @staticmethod
    def deserialize(payload_obj: dict[str, Any]) -> ResourceConfiguration:
        """Build a configuration from :meth:`serialize`'s output."""
        return ResourceConfiguration(cpu=payload_obj.get("cpu"), memory_in_gb=payload_obj.get("memoryInGB"),
                                     gpu=payload_obj.get("gpu"))
