"""Profiling: load a service at rising concurrency, sample its CPU and memory, and
recommend ``{'cpu': …, 'memoryInGB': …}`` (``Model.profile``, ``profile_service``); plan the
replicas a target load needs from it (``plan_capacity``)."""

from __future__ import annotations

from mlnb.profiling._plan import DEFAULT_THROUGHPUT_HEADROOM, CapacityPlan, plan_capacity, plan_from_levels
from mlnb.profiling._profile import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DURATION_S,
    DEFAULT_MEMORY_HEADROOM,
    ModelProfile,
    parse_concurrency,
    prepare_inputs,
    profile_model,
    profile_service,
)

__all__ = [
    "CapacityPlan",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DURATION_S",
    "DEFAULT_MEMORY_HEADROOM",
    "DEFAULT_THROUGHPUT_HEADROOM",
    "ModelProfile",
    "parse_concurrency",
    "plan_capacity",
    "plan_from_levels",
    "prepare_inputs",
    "profile_model",
    "profile_service",
]
