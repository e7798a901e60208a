"""``azureml.train``: Azure's training services, which only its cloud can back."""

from __future__ import annotations

__all__: list[str] = []
