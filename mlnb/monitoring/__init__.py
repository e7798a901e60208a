"""Monitoring a service: its collected requests, its metrics, and drift of its inputs.

Read what a service served with ``--collect-dir`` collected, parse its ``GET /metrics``,
and compare its inputs with reference data::

    from mlnb.monitoring import drift, read_collected
    frame = read_collected(".mlnb/collected", service="diabetes", since="2024-05-01")
    report = drift(frame, X_train)

See ``docs/monitoring.md``.
"""

from __future__ import annotations

from mlnb.monitoring._collected import expand_inputs, read_collected
from mlnb.monitoring._drift import EPSILON, DriftReport, drift, population_stability_index
from mlnb.monitoring._metrics import parse_metrics

__all__ = [
    "DriftReport",
    "EPSILON",
    "drift",
    "expand_inputs",
    "parse_metrics",
    "population_stability_index",
    "read_collected",
]
