"""``azureml.contrib.services``: ``aml_request`` and ``aml_response``, mlnb's serving runtime's own."""

from __future__ import annotations

__all__: list[str] = []
