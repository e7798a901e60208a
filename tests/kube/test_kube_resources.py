"""A profile's recommendation becomes Kubernetes quantities, rounded up, never down."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mlnb.errors import InvalidConfiguration
from mlnb.kube import DEFAULT_HEADROOM, KubeSpec, resources_from_recommendation
from mlnb.kube._resources import parse_quantity


@pytest.mark.parametrize(
    ("cpu", "cpu_request", "cpu_limit"),
    [
        (0.05, "50m", "75m"),
        (0.001, "1m", "2m"),        # 1.5 millicores rounds up to 2
        (0.0001, "1m", "1m"),       # below a millicore: the smallest quantity Kubernetes keeps
        (1.0, "1", "1500m"),        # whole cores are written as cores
        (1, "1", "1500m"),
        (2.5, "2500m", "3750m"),
        (0.29, "290m", "435m"),     # decimal arithmetic: binary 0.29 * 1000 would round up to 291
        (0.8, "800m", "1200m"),
        (2.0, "2", "3"),
        (0.1234, "124m", "186m"),   # 123.4 and 185.1 millicores round up
    ],
)
def test_cpu_becomes_millicores_rounded_up(cpu: float, cpu_request: str, cpu_limit: str) -> None:
    resources = resources_from_recommendation({"cpu": cpu, "memoryInGB": 1})
    assert (resources["cpu_request"], resources["cpu_limit"]) == (cpu_request, cpu_limit)


@pytest.mark.parametrize(
    ("memory", "memory_request", "memory_limit"),
    [
        (0.2, "205Mi", "308Mi"),    # 204.8 MiB and 307.2 MiB, rounded up
        (0.5, "512Mi", "768Mi"),
        (1.0, "1Gi", "1536Mi"),     # whole GiB are written as GiB
        (2, "2Gi", "3Gi"),
        (0.001, "2Mi", "2Mi"),      # 1.024 MiB rounds up to 2
        (0.1, "103Mi", "154Mi"),    # 102.4 and 153.6
    ],
)
def test_memory_in_gb_becomes_mebibytes_rounded_up(memory: float, memory_request: str, memory_limit: str) -> None:
    resources = resources_from_recommendation({"cpu": 1, "memoryInGB": memory})
    assert (resources["memory_request"], resources["memory_limit"]) == (memory_request, memory_limit)


def test_the_example_from_the_docstring() -> None:
    assert resources_from_recommendation({"cpu": 0.8, "memoryInGB": 0.2}) == {
        "cpu_request": "800m", "cpu_limit": "1200m", "memory_request": "205Mi", "memory_limit": "308Mi",
    }


@pytest.mark.parametrize(
    ("headroom", "cpu_limit", "memory_limit"),
    [(0, "800m", "205Mi"), (0.25, "1", "256Mi"), (1, "1600m", "410Mi"), (10, "8800m", "2253Mi")],
)
def test_headroom_sizes_the_limits_over_the_requests(headroom: float, cpu_limit: str, memory_limit: str) -> None:
    resources = resources_from_recommendation({"cpu": 0.8, "memoryInGB": 0.2}, headroom=headroom)
    assert (resources["cpu_request"], resources["memory_request"]) == ("800m", "205Mi")
    assert (resources["cpu_limit"], resources["memory_limit"]) == (cpu_limit, memory_limit)


def test_the_default_headroom_is_half() -> None:
    assert DEFAULT_HEADROOM == 0.5


def test_the_result_is_a_valid_spec_and_the_spec_defaults_are_azures_aks_defaults() -> None:
    azure_defaults = resources_from_recommendation({"cpu": 0.1, "memoryInGB": 0.5})
    made = KubeSpec("diabetes", "diabetes:1", **azure_defaults)
    default = KubeSpec("diabetes", "diabetes:1")
    assert (made.cpu_request, made.cpu_limit, made.memory_request, made.memory_limit) == (
        default.cpu_request, default.cpu_limit, default.memory_request, default.memory_limit,
    )


@pytest.mark.parametrize(
    ("recommendation", "message"),
    [
        ({"cpu": 1.0}, "exactly the keys 'cpu' and 'memoryInGB'"),
        ({"cpu": 1.0, "memoryInGB": 1.0, "gpu": 1}, "exactly the keys"),
        ({"cpu": 1.0, "memory_in_gb": 1.0}, "exactly the keys"),
        ([("cpu", 1.0)], "exactly the keys"),
        ({"cpu": 0, "memoryInGB": 1.0}, "invalid value for cpu, expected a number above zero"),
        ({"cpu": -0.5, "memoryInGB": 1.0}, "invalid value for cpu"),
        ({"cpu": math.nan, "memoryInGB": 1.0}, "invalid value for cpu, expected a finite number"),
        ({"cpu": 1.0, "memoryInGB": math.inf}, "invalid value for memoryInGB, expected a finite number"),
        ({"cpu": "1", "memoryInGB": 1.0}, "invalid value for cpu"),
        ({"cpu": True, "memoryInGB": 1.0}, "invalid value for cpu"),
    ],
)
def test_a_recommendation_that_cannot_size_a_pod_is_refused(recommendation: Any, message: str) -> None:
    with pytest.raises(InvalidConfiguration, match=message):
        resources_from_recommendation(recommendation)


@pytest.mark.parametrize("headroom", [-0.1, 10.5, math.nan, "0.5"])
def test_a_headroom_out_of_range_is_refused(headroom: Any) -> None:
    with pytest.raises(InvalidConfiguration, match="headroom"):
        resources_from_recommendation({"cpu": 1, "memoryInGB": 1}, headroom=headroom)


@pytest.mark.parametrize(
    ("text", "value"),
    [("800m", "0.8"), ("1", "1"), ("1.5", "1.5"), ("205Mi", str(205 * 2**20)), ("1Gi", str(2**30)),
     ("1e3", "1000"), ("2k", "2000"), ("500M", "500000000"), (".5", "0.5"), ("100n", "1E-7")],
)
def test_quantities_read_as_kubernetes_reads_them(text: str, value: str) -> None:
    from decimal import Decimal

    assert parse_quantity(text) == Decimal(value)
