"""Profiling: load a service at rising concurrency, sample its CPU and memory, and
recommend ``{'cpu': …, 'memoryInGB': …}`` (``Model.profile``, ``profile_service``)."""

from __future__ import annotations

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
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DURATION_S",
    "DEFAULT_MEMORY_HEADROOM",
    "ModelProfile",
    "parse_concurrency",
    "prepare_inputs",
    "profile_model",
    "profile_service",
]
