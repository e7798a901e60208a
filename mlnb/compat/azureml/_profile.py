"""``azureml.core.profile.ModelProfile``: mlnb's profile, with Azure's attributes and ``get_details()`` keys.

mlnb's profiler (:func:`mlnb.profiling.profile_model`) loads the service at rising
concurrency; Azure's figures are read from it as follows:

- ``recommended_cpu`` / ``recommended_memory``: mlnb's recommendation (``get_results()``);
- ``max_utilized_cpu`` / ``max_utilized_memory``: the highest CPU (cores) and memory (GB)
  measured at any level;
- ``total_queries`` / ``success_queries`` / ``success_rate``: over every load level;
- ``measured_queries_per_second`` and the latency percentiles (50, 90, 99): at the level
  with the highest throughput. mlnb does not report a mean, p95 or p99.9 latency, so
  ``average_latency_in_ms``, ``latency_percentile_95_in_ms`` and
  ``latency_percentile_999_in_ms`` stay ``None`` and ``get_details()`` leaves them out, as
  Azure leaves out every value it does not have.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import uuid
import warnings
from collections.abc import Sequence
from typing import Any

from mlnb.compat.azureml._protocol import AzureWorkspace, local_workspace
from mlnb.errors import InvalidConfiguration, ProfileFailed
from mlnb.profiling import ModelProfile as LocalProfile

__all__ = ["ModelProfile"]

_TERMINAL = ("Succeeded", "Failed", "Cancelled")
_SUCCESS_KEYS = (
    "requestedCpu", "requestedMemoryInGB", "requestedQueriesPerSecond", "maxUtilizedMemoryInGB", "maxUtilizedCpu",
    "totalQueries", "successQueries", "successRate", "averageLatencyInMs", "latencyPercentile50InMs",
    "latencyPercentile90InMs", "latencyPercentile95InMs", "latencyPercentile99InMs", "latencyPercentile999InMs",
    "measuredQueriesPerSecond", "state", "name", "description", "createdTime", "error", "recommendedMemoryInGB",
    "recommendedCpu",
)
_ERROR_KEYS = ("name", "description", "state", "requestedCpu", "requestedMemoryInGB", "requestedQueriesPerSecond", "error",
               "errorLogsUri", "createdTime")
_PROFILES: dict[tuple[str, str], ModelProfile] = {}


class ModelProfile:
    """A profiling run: Azure's view of an :class:`mlnb.ModelProfile` (``profile.mlnb``).

    ``ModelProfile(ws, name)`` finds a profile started in this kernel (mlnb keeps none on disk).

    Raises:
        InvalidConfiguration: when no profile of that name was started in this kernel.
    """

    workspace: AzureWorkspace
    name: str
    description: str | None
    id: str
    created_time: _dt.datetime
    requested_cpu: float | None
    requested_memory_in_gb: float | None
    requested_queries_per_second: float | None
    _profile: LocalProfile

    def __init__(self, workspace: AzureWorkspace, name: str) -> None:
        started = _PROFILES.get((str(local_workspace(workspace).path), name))
        if started is None:
            raise InvalidConfiguration(f"no profile named {name!r} was started in this kernel; profiles are not kept on disk: "
                                       "use the object Model.profile(...) returned")
        self.__dict__.update(started.__dict__)

    @classmethod
    def _start(cls, workspace: AzureWorkspace, profile: LocalProfile, *, cpu: float | None, memory_in_gb: float | None,
               description: str | None) -> ModelProfile:
        handle = cls.__new__(cls)
        handle.workspace = workspace
        handle.name = profile.name
        handle.description = description
        handle.id = str(uuid.uuid4())
        handle.created_time = _dt.datetime.now(_dt.timezone.utc)
        handle.requested_cpu = cpu
        handle.requested_memory_in_gb = memory_in_gb
        handle.requested_queries_per_second = None
        handle._profile = profile
        _PROFILES[(str(local_workspace(workspace).path), profile.name)] = handle
        return handle

    @property
    def mlnb(self) -> LocalProfile:
        """mlnb's profile behind this one (``levels``, ``samples``, ``plot()``)."""
        profile: LocalProfile = self._profile
        return profile

    # -- waiting -------------------------------------------------------------------------

    def wait_for_completion(self, show_output: bool = False) -> None:
        """Wait for the profile to end; with ``show_output``, print its state and a dot per second, as Azure does.

        A failed profile is reported by a warning, as Azure reports it; ``get_details()`` has the error.
        """
        shown = self.state
        if show_output:
            sys.stdout.write(shown)
        while self.state not in _TERMINAL:
            try:
                self.mlnb.wait_for_profiling(timeout_sec=1)
            except (TimeoutError, ProfileFailed):
                pass  # still running, or failed: the state says which
            if show_output:
                sys.stdout.write(".")
                if self.state != shown:
                    shown = self.state
                    sys.stdout.write(f"\n{shown}")
                sys.stdout.flush()
        if show_output:
            sys.stdout.write("\n")
            sys.stdout.flush()
        if self.state == "Failed":
            warnings.warn(f"Model profiling operation failed: {self.mlnb.error}", UserWarning, stacklevel=2)

    def wait_for_profiling(self, show_output: bool = False) -> None:
        """The 2019 SDK's name for :meth:`wait_for_completion` (gone from azureml-core 1.61, kept for old notebooks)."""
        self.wait_for_completion(show_output)

    # -- results -------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``Running``, ``Succeeded``, ``Failed`` or ``Cancelled`` (``NotStarted`` before the run begins)."""
        return self.mlnb.state

    @property
    def error(self) -> dict[str, str] | None:
        """``{"message": …}`` when the profile failed, as Azure gives it."""
        return {"message": self.mlnb.error} if self.mlnb.error else None

    @property
    def recommended_cpu(self) -> float | None:
        """The recommended CPU cores, once the profile succeeded."""
        return self.mlnb.get_results()["cpu"] if self.state == "Succeeded" else None

    @property
    def recommended_memory(self) -> float | None:
        """The recommended memory in GB, once the profile succeeded."""
        return self.mlnb.get_results()["memoryInGB"] if self.state == "Succeeded" else None

    @property
    def max_utilized_cpu(self) -> float | None:
        """The most CPU cores measured at any level."""
        return self._levels_max("cpu_cores")

    @property
    def max_utilized_memory(self) -> float | None:
        """The most memory measured at any level, in GB."""
        return self._levels_max("peak_memory_gb")

    @property
    def total_queries(self) -> int | None:
        """Requests sent over every load level."""
        levels = self._levels()
        return int(levels["requests"].sum()) if levels is not None else None

    @property
    def success_queries(self) -> int | None:
        """Requests answered 200 over every load level."""
        levels = self._levels()
        return int((levels["requests"] - levels["errors"]).sum()) if levels is not None else None

    @property
    def success_rate(self) -> float | None:
        """``success_queries / total_queries``."""
        total, ok = self.total_queries, self.success_queries
        return ok / total if total and ok is not None else None

    @property
    def measured_queries_per_second(self) -> float | None:
        """The highest throughput of any level (successful requests per second)."""
        return self._busiest("requests_per_s")

    @property
    def latency_percentile_50_in_ms(self) -> float | None:
        """Median latency at the busiest level."""
        return self._busiest("p50_ms")

    @property
    def latency_percentile_90_in_ms(self) -> float | None:
        """90th percentile latency at the busiest level."""
        return self._busiest("p90_ms")

    @property
    def latency_percentile_99_in_ms(self) -> float | None:
        """99th percentile latency at the busiest level."""
        return self._busiest("p99_ms")

    average_latency_in_ms: float | None = None
    latency_percentile_95_in_ms: float | None = None
    latency_percentile_999_in_ms: float | None = None

    def _levels(self) -> Any:
        if self.state != "Succeeded":
            return None
        levels = self.mlnb.levels
        return levels if len(levels) else None

    def _levels_max(self, column: str) -> float | None:
        levels = self._levels()
        return _number(levels[column].max()) if levels is not None else None

    def _busiest(self, column: str) -> float | None:
        levels = self._levels()
        return _number(levels.loc[levels["requests_per_s"].idxmax(), column]) if levels is not None else None

    def serialize(self) -> dict[str, Any]:
        """Every value, with Azure's key names."""
        return {
            "id": self.id, "name": self.name, "createdTime": self.created_time.isoformat(), "state": self.state,
            "description": self.description, "requestedCpu": self.requested_cpu,
            "requestedMemoryInGB": self.requested_memory_in_gb,
            "requestedQueriesPerSecond": self.requested_queries_per_second, "inputDatasetId": None,
            "maxUtilizedMemoryInGB": self.max_utilized_memory, "totalQueries": self.total_queries,
            "successQueries": self.success_queries, "successRate": self.success_rate,
            "averageLatencyInMs": self.average_latency_in_ms,
            "latencyPercentile50InMs": self.latency_percentile_50_in_ms,
            "latencyPercentile90InMs": self.latency_percentile_90_in_ms,
            "latencyPercentile95InMs": self.latency_percentile_95_in_ms,
            "latencyPercentile99InMs": self.latency_percentile_99_in_ms,
            "latencyPercentile999InMs": self.latency_percentile_999_in_ms, "modelIds": None, "environment": None,
            "maxUtilizedCpu": self.max_utilized_cpu, "measuredQueriesPerSecond": self.measured_queries_per_second,
            "error": self.error, "errorLogsUri": None,
            "recommendedMemoryInGB": self.recommended_memory, "recommendedCpu": self.recommended_cpu,
        }

    def get_details(self) -> dict[str, Any]:
        """The measured and recommended values that exist, with Azure's keys (fewer when the profile failed)."""
        values = self.serialize()
        keys: Sequence[str] = _SUCCESS_KEYS if values["state"] == "Succeeded" else _ERROR_KEYS
        return {key: values[key] for key in keys if values[key] is not None}

    def get_results(self) -> dict[str, float]:
        """mlnb's (and the 2019 SDK's) ``{'cpu': …, 'memoryInGB': …}``.

        Raises:
            ProfileFailed: when the profile is running, failed or was cancelled.
        """
        return self.mlnb.get_results()

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value}" for key, value in self.serialize().items() if value is not None)
        return f"ModelProfile(workspace={self.workspace!r}, {fields})"


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number
