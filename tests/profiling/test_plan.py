"""Capacity plans: the arithmetic on a levels table, and a plan from a real profile."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from profiling_workloads import BURN_MS, BURN_SCRIPT

from mlnb import InferenceConfig, Model, Workspace
from mlnb.errors import InvalidConfiguration, ProfileFailed
from mlnb.profiling import plan_capacity, plan_from_levels

LEVELS = pd.DataFrame(
    {
        "concurrency": [1, 2, 4, 8],
        "requests_per_s": [40.0, 75.0, 100.0, 104.0],
        "p99_ms": [30.0, 45.0, 80.0, 160.0],
        "error_rate": [0.0, 0.0, 0.0, 0.0],
        "cpu_cores": [0.42, 0.81, 1.07, 1.1],
    }
)


def test_replicas_come_from_the_busiest_level_within_the_target() -> None:
    plan = plan_from_levels(LEVELS, memory_gb=0.4, requests_per_s=300, p99_ms=50)

    # concurrency 2: 75 requests/s within 50 ms; 75 / 1.25 = 60 per replica; 300 / 60 = 5.
    assert (plan.replicas, plan.max_replicas, plan.cpu, plan.memory_gb) == (5, 10, 0.9, 0.4)
    assert plan.replica_requests_per_s == 75.0
    assert "concurrency 2 is the busiest level with p99 45.0 ms <= 50 ms" in plan.derivation["replicas"]
    assert "300 / 60.0 = 5.00, rounded up to 5" in plan.derivation["replicas"]
    assert plan.deployment_options() == {"replicas": 5, "cpu_cores": 0.9, "memory_gb": 0.4}
    assert plan.kube_options() == {"replicas": 5, "min_replicas": 5, "max_replicas": 10}
    assert plan.recommendation == {"cpu": 0.9, "memoryInGB": 0.4}
    assert "CapacityPlan" in plan._repr_html_()


def test_a_looser_target_uses_a_busier_level_and_fewer_replicas() -> None:
    tight = plan_from_levels(LEVELS, memory_gb=0.4, requests_per_s=300, p99_ms=50)
    loose = plan_from_levels(LEVELS, memory_gb=0.4, requests_per_s=300, p99_ms=100, headroom=0, peak_requests_per_s=300)

    assert loose.replicas == 3 < tight.replicas and loose.max_replicas == 3 and loose.cpu == 1.1


def test_a_target_no_level_met_is_refused_with_the_best_measured() -> None:
    with pytest.raises(ProfileFailed, match=r"no profiled level kept p99 <= 20 ms .*best was p99 30.0 ms at concurrency 1"):
        plan_from_levels(LEVELS, memory_gb=0.4, requests_per_s=10, p99_ms=20)
    erring = LEVELS.assign(error_rate=0.5)
    with pytest.raises(ProfileFailed):
        plan_from_levels(erring, memory_gb=0.4, requests_per_s=10, p99_ms=500)
    for bad in ({"requests_per_s": 0}, {"p99_ms": -1}, {"headroom": -0.1}, {"peak_requests_per_s": 5}):
        options = {"memory_gb": 0.4, "requests_per_s": 10, "p99_ms": 50, **bad}
        with pytest.raises(InvalidConfiguration):
            plan_from_levels(LEVELS, **options)  # type: ignore[arg-type]


def test_a_plan_from_a_real_profile(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    (source / "burn.py").write_text(BURN_SCRIPT)
    config = InferenceConfig(entry_script="burn.py", source_directory=source)
    request = json.dumps({"data": [[1, 2, 3]]})
    profile = Model.profile(workspace, "planme", [model], config, [request], duration_s=6, concurrency=[1, 2], backend="process")
    profile.wait_for_profiling()

    # One request burns BURN_MS of CPU: one replica serves at most about 1000 / BURN_MS per core.
    plan = plan_capacity(profile, 100, p99_ms=10 * BURN_MS)

    assert plan.replica_requests_per_s <= 2 * 1000 / BURN_MS
    assert plan.replicas * plan.replica_requests_per_s / 1.25 >= 100
    assert plan.memory_gb == profile.get_results()["memoryInGB"]
    assert plan.derivation["memory"] == profile.get_details()["derivation"]["memory"]
