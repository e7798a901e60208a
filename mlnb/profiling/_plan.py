"""Capacity plans: from one replica's measured levels, how many replicas of which size
serve R requests per second with p99 latency within L milliseconds.

A profile measures one replica at rising concurrency. The plan takes the busiest level
that kept p99 within the target with at most 1 % errors: its throughput is what one
replica delivers at that latency. Then

- ``replicas`` = ceil(R x (1 + ``headroom``) / that throughput), at least 1: the headroom
  (25 % by default) absorbs bursts and the replica a rolling update or a failure takes away;
- each replica gets the CPU that level used and the profile's memory recommendation (peak
  plus its own headroom), both rounded up to 0.1;
- the autoscaler's range runs from ``replicas`` to the replicas ``peak_requests_per_s``
  needs the same way (twice R by default).

The plan assumes that replicas do not share cores: one replica's throughput times N holds
when each has the CPU it was profiled with, which a machine with fewer free cores than
N x cpu cannot give (bench/scale.py shows it on two cores).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlnb import _html
from mlnb.errors import InvalidConfiguration, ProfileFailed

if TYPE_CHECKING:
    import pandas as pd

    from mlnb.profiling._profile import ModelProfile

__all__ = ["DEFAULT_THROUGHPUT_HEADROOM", "CapacityPlan", "plan_capacity", "plan_from_levels"]

DEFAULT_THROUGHPUT_HEADROOM = 0.25
_MAX_ERROR_RATE = 0.01
_PEAK_FACTOR = 2.0


@dataclass(frozen=True)
class CapacityPlan:
    """Replicas and their size for a target load, with how each number was derived.

    Attributes:
        requests_per_s: the load planned for.
        p99_target_ms: the latency the plan keeps.
        replicas: replicas for that load.
        max_replicas: replicas for the peak load (the autoscaler's maximum).
        cpu: cores per replica.
        memory_gb: memory per replica, in GB.
        replica_requests_per_s: what one replica serves within the target (measured).
        derivation: ``replicas``, ``cpu``, ``memory`` and ``max_replicas``, one sentence each.
    """

    requests_per_s: float
    p99_target_ms: float
    replicas: int
    max_replicas: int
    cpu: float
    memory_gb: float
    replica_requests_per_s: float
    derivation: Mapping[str, str]

    @property
    def recommendation(self) -> dict[str, float]:
        """Per replica, as a profile's ``get_results()`` gives it: ``{'cpu': …, 'memoryInGB': …}``
        (``mlnb.kube.resources_from_recommendation`` takes it)."""
        return {"cpu": self.cpu, "memoryInGB": self.memory_gb}

    def deployment_options(self) -> dict[str, Any]:
        """Keyword arguments for ``LocalWebservice.deploy_configuration(backend="swarm", **…)``."""
        return {"replicas": self.replicas, "cpu_cores": self.cpu, "memory_gb": self.memory_gb}

    def kube_options(self) -> dict[str, Any]:
        """Keyword arguments for ``mlnb.kube.KubeSpec`` (with autoscaling): replicas and the range."""
        return {"replicas": self.replicas, "min_replicas": self.replicas, "max_replicas": self.max_replicas}

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("target", f"{self.requests_per_s:g} requests/s at p99 <= {self.p99_target_ms:g} ms"),
            ("replicas", f"{self.replicas} (autoscale up to {self.max_replicas})"),
            ("each", _html.code(str(self.recommendation))),
            *((what, sentence) for what, sentence in self.derivation.items()),
        ]
        return _html.card("CapacityPlan", rows)


def plan_capacity(
    profile: ModelProfile,
    requests_per_s: float,
    p99_ms: float | None = None,
    *,
    peak_requests_per_s: float | None = None,
    headroom: float = DEFAULT_THROUGHPUT_HEADROOM,
) -> CapacityPlan:
    """Plan replicas for ``requests_per_s`` from a finished profile of one replica.

    Args:
        profile: a Succeeded profile.
        requests_per_s: the load to serve.
        p99_ms: the p99 latency to keep; ``None`` means the profile's ``p99_target_ms``.
        peak_requests_per_s: the load the autoscaler's maximum must serve (default twice
            ``requests_per_s``).
        headroom: the fraction of throughput held in reserve per replica.

    Returns:
        The plan, with its derivation.

    Raises:
        ProfileFailed: when the profile has no results, or no measured level kept ``p99_ms``.
        InvalidConfiguration: for a non-positive load or target, or a peak below the load.

    Example::

        plan = plan_capacity(profile, 200, 50)
        LocalWebservice.deploy_configuration(backend="swarm", **plan.deployment_options())
    """
    recommendation = profile.get_results()
    target = profile.p99_target_ms if p99_ms is None else p99_ms
    return plan_from_levels(
        profile.levels,
        memory_gb=recommendation["memoryInGB"],
        memory_derivation=profile.get_details()["derivation"]["memory"],
        requests_per_s=requests_per_s,
        p99_ms=target,
        peak_requests_per_s=peak_requests_per_s,
        headroom=headroom,
    )


def plan_from_levels(
    levels: pd.DataFrame,
    *,
    memory_gb: float,
    requests_per_s: float,
    p99_ms: float,
    peak_requests_per_s: float | None = None,
    headroom: float = DEFAULT_THROUGHPUT_HEADROOM,
    memory_derivation: str = "",
) -> CapacityPlan:
    """Plan from a profile's :attr:`~ModelProfile.levels` table; see :func:`plan_capacity`.

    Args:
        levels: one row per level with ``concurrency``, ``requests_per_s``, ``p99_ms``,
            ``error_rate`` and ``cpu_cores``.
        memory_gb: memory per replica (the profile's recommendation).
        requests_per_s: the load to serve.
        p99_ms: the p99 latency to keep.
        peak_requests_per_s: the autoscaler maximum's load (default twice the load).
        headroom: the fraction of throughput held in reserve per replica.
        memory_derivation: how ``memory_gb`` was derived, repeated in the plan.

    Returns:
        The plan.

    Raises:
        ProfileFailed: when no level kept ``p99_ms`` with at most 1 % errors.
        InvalidConfiguration: for invalid numbers.
    """
    for name, value in (("requests_per_s", requests_per_s), ("p99_ms", p99_ms), ("memory_gb", memory_gb)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise InvalidConfiguration(f"invalid value for {name}, expected a positive number (not {value!r})")
    if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or not 0 <= headroom <= 10:
        raise InvalidConfiguration(f"invalid value for headroom, expected a fraction such as 0.25 (not {headroom!r})")
    peak = _PEAK_FACTOR * requests_per_s if peak_requests_per_s is None else peak_requests_per_s
    if isinstance(peak, bool) or not isinstance(peak, (int, float)) or peak < requests_per_s:
        raise InvalidConfiguration(f"peak_requests_per_s must be at least requests_per_s ({requests_per_s:g}), not {peak!r}")
    fits = levels[(levels["p99_ms"] <= p99_ms) & (levels["error_rate"] <= _MAX_ERROR_RATE) & (levels["requests_per_s"] > 0)]
    if not len(fits):
        best = levels.iloc[int(levels["p99_ms"].to_numpy().argmin())] if len(levels) else None
        measured = f"the best was p99 {best['p99_ms']:.1f} ms at concurrency {int(best['concurrency'])}" if best is not None else "no level ran"
        raise ProfileFailed(
            f"no profiled level kept p99 <= {p99_ms:g} ms with errors <= {_MAX_ERROR_RATE:.0%} ({measured}); more replicas "
            "cannot lower the latency of one request: raise the target, or profile with more cpu or a faster model"
        )
    chosen = fits.iloc[int(fits["requests_per_s"].to_numpy().argmax())]
    throughput = float(chosen["requests_per_s"])
    planned = throughput / (1 + headroom)
    replicas = max(1, math.ceil(requests_per_s / planned - 1e-9))
    maximum = max(replicas, math.ceil(peak / planned - 1e-9))
    cores = float(chosen["cpu_cores"])
    cpu = max(0.1, math.ceil(cores * 10 - 1e-6) / 10) if not math.isnan(cores) else math.nan
    level = f"concurrency {int(chosen['concurrency'])}"
    derivation = {
        "replicas": (
            f"{level} is the busiest level with p99 {chosen['p99_ms']:.1f} ms <= {p99_ms:g} ms: one replica served "
            f"{throughput:.1f} requests/s, planned at {throughput:.1f} / (1 + {headroom:g} headroom) = {planned:.1f}; "
            f"{requests_per_s:g} / {planned:.1f} = {requests_per_s / planned:.2f}, rounded up to {replicas}"
        ),
        "cpu": f"at {level} a replica used {cores:.2f} cores, rounded up to {cpu:.1f}",
        "memory": memory_derivation or f"{memory_gb:.1f} GB per replica, as given",
        "max_replicas": f"peak {peak:g} requests/s / {planned:.1f} = {peak / planned:.2f}, rounded up to {maximum}",
    }
    return CapacityPlan(
        requests_per_s=float(requests_per_s),
        p99_target_ms=float(p99_ms),
        replicas=replicas,
        max_replicas=maximum,
        cpu=cpu,
        memory_gb=float(memory_gb),
        replica_requests_per_s=throughput,
        derivation=derivation,
    )
