"""Every manifest passes the Kubernetes schemas, strictly, from the oldest to the newest
version kubernetes-validate ships; and the same check fails a wrong field, so passing means
something.

Strict schemas refuse unknown fields too, so a misspelt or misplaced field fails as well
as a wrongly typed one. kubernetes-validate 1.37 ships the schemas of Kubernetes 1.25 to
1.37 (autoscaling/v2 is GA since 1.23, policy/v1 since 1.21: both older than 1.25).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions
from packaging.version import Version

from mlnb.kube import KubeSpec, render_manifests

SHIPPED = sorted({Version(v) for v in all_versions()})
VERSIONS = [str(v) for v in (SHIPPED[0], SHIPPED[len(SHIPPED) // 2], SHIPPED[-1])]
NEWEST = VERSIONS[-1]
KEYS = ["primary-key-0123456789", "secondary-key-9876543210"]

SPECS = {
    "defaults": (KubeSpec("diabetes", "diabetes:1"), None),
    "everything": (
        KubeSpec(
            "diabetes", "registry.example.com/team/diabetes:3", port=8080, service_port=8000, replicas=2,
            min_replicas=2, max_replicas=6, target_cpu_utilization=60, cpu_request="800m", cpu_limit="1200m",
            memory_request="205Mi", memory_limit="308Mi", auth_enabled=True, environment={"WORKER_COUNT": "2"},
            labels={"team": "fraud", "example.com/cost-centre": ""}, namespace="ml", entry_script="score.py",
            model_dir="/var/azureml-app/azureml-models/diabetes/3", image_pull_secrets=("regcred",),
            read_only_root_filesystem=False,
        ),
        KEYS,
    ),
    "fixed-replicas": (KubeSpec("diabetes", "diabetes:1", autoscale=False, replicas=3), None),
}


def manifests_of(case: str) -> list[dict[str, Any]]:
    spec, keys = SPECS[case]
    return render_manifests(spec, keys=keys)


def kind(manifests: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(m for m in manifests if m["kind"] == name)


def test_three_versions_from_oldest_to_newest() -> None:
    assert len(set(VERSIONS)) == 3 and VERSIONS == sorted(VERSIONS, key=Version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", sorted(SPECS))
def test_every_manifest_passes_the_strict_schemas(case: str, version: str) -> None:
    manifests = manifests_of(case)
    assert {m["kind"] for m in manifests} >= {"Deployment", "Service", "PodDisruptionBudget"}
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(manifest: dict[str, Any]) -> None:
        node = manifest
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(manifest: dict[str, Any]) -> None:
        node = manifest
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return mutate


CONTAINER = ["spec", "template", "spec", "containers", 0]
POD_CONTEXT = ["spec", "template", "spec", "securityContext"]
PORT = [*CONTAINER, "ports", 0, "containerPort"]
HTTP_GET = [*CONTAINER, "livenessProbe", "httpGet"]
# What is changed, in which case's object, and where the schema reports it.
MUTATIONS = {
    "replicas as a string": ("fixed-replicas", "Deployment", _set(["spec", "replicas"], "3"), ["spec", "replicas"]),
    "container port as a string": ("defaults", "Deployment", _set(PORT, "5001"), PORT),
    "misspelt probe field": ("defaults", "Deployment", _set([*HTTP_GET, "paht"], "/"), HTTP_GET),
    "container without a name": ("defaults", "Deployment", _delete([*CONTAINER, "name"]), CONTAINER),
    "runAsNonRoot as a string": (
        "defaults", "Deployment", _set([*POD_CONTEXT, "runAsNonRoot"], "true"), [*POD_CONTEXT, "runAsNonRoot"],
    ),
    "service port as a string": ("defaults", "Service", _set(["spec", "ports", 0, "port"], "80"), ["spec", "ports", 0, "port"]),
    "autoscaling/v1 field in a v2 autoscaler": (
        "defaults", "HorizontalPodAutoscaler", _set(["spec", "targetCPUUtilizationPercentage"], 70), ["spec"],
    ),
    "autoscaler without maxReplicas": ("defaults", "HorizontalPodAutoscaler", _delete(["spec", "maxReplicas"]), ["spec"]),
    "budget selector as a string": (
        "defaults", "PodDisruptionBudget", _set(["spec", "selector"], "app=diabetes"), ["spec", "selector"],
    ),
    "secret data as a list": ("everything", "Secret", _set(["data"], ["a", "b"]), ["data"]),
}


@pytest.mark.parametrize("version", [VERSIONS[0], NEWEST])
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_same_validation_fails_a_wrong_field(mutation: str, version: str) -> None:
    case, kind_name, mutate, where = MUTATIONS[mutation]
    manifest = copy.deepcopy(kind(manifests_of(case), kind_name))
    kubernetes_validate.validate(manifest, version, strict=True)
    mutate(manifest)

    with pytest.raises(kubernetes_validate.ValidationError) as caught:
        kubernetes_validate.validate(manifest, version, strict=True)
    assert list(caught.value.path) == where
