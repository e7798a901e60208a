"""``ResourceConfiguration``: the CPU and memory a registered model needs.

A leaf of the registry (it imports nothing else of mlnb but the errors), so the registry can
record a model's needs without knowing anything about deployments.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mlnb.errors import InvalidConfiguration

__all__ = ["ResourceConfiguration"]


@dataclass(frozen=True)
class ResourceConfiguration:
    """CPU cores and memory a model needs, as Azure's ``ResourceConfiguration``.

    Args:
        cpu: CPU cores, a positive number (fractions allowed).
        memory_in_gb: memory in GB, a positive number.

    Raises:
        InvalidConfiguration: when a value is not a positive finite number.
    """

    cpu: float | None = None
    memory_in_gb: float | None = None

    def __post_init__(self) -> None:
        for field, value in (("cpu", self.cpu), ("memory_in_gb", self.memory_in_gb)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise InvalidConfiguration(f"invalid value for {field}, expected a positive number (not {value!r})")

    def serialize(self) -> dict[str, Any]:
        """Return the configuration as a JSON-ready dict (Azure's field names)."""
        return {"cpu": self.cpu, "memoryInGB": self.memory_in_gb}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> ResourceConfiguration:
        """Build a configuration from :meth:`serialize`'s output."""
        return cls(cpu=data.get("cpu"), memory_in_gb=data.get("memoryInGB", data.get("memory_in_gb")))

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration with Python field names."""
        return asdict(self)
