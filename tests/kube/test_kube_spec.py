"""KubeSpec refuses, with one line, every value Kubernetes or the server would refuse."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mlnb.errors import InvalidConfiguration
from mlnb.kube import KubeSpec

IMAGE = "registry.example.com/diabetes:3"


def spec(**options: Any) -> KubeSpec:
    return KubeSpec(options.pop("name", "diabetes"), options.pop("image", IMAGE), **options)


@pytest.mark.parametrize("name", ["a", "diabetes", "diabetes-v2", "a1", "a" * 63, "a-b-c"])
def test_names_that_kubernetes_accepts(name: str) -> None:
    assert spec(name=name).name == name


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("a" * 64, "a" * 63),              # longer than a DNS label
        ("Diabetes", "diabetes"),          # upper case
        ("my_service", "my-service"),      # underscore
        ("1diabetes", "diabetes"),         # a Service name must start with a letter (RFC 1035)
        ("diabetes-", "diabetes"),         # must end with a letter or digit
        ("-diabetes", "diabetes"),
        ("my.service", "my-service"),      # a dot is a subdomain, not a label
        ("", None),
        ("123", None),
    ],
)
def test_names_that_kubernetes_refuses_say_why_and_suggest_one(name: str, suggestion: str | None) -> None:
    with pytest.raises(InvalidConfiguration, match="at most 63 lower-case letters, digits or '-', starting with a letter") as caught:
        spec(name=name)
    message = str(caught.value)
    assert "\n" not in message
    if suggestion is None:
        assert "try" not in message
    else:
        assert message.endswith(f"try {suggestion!r}")


@pytest.mark.parametrize(
    "image",
    ["diabetes", "diabetes:3", "registry.example.com/team/diabetes:3", "127.0.0.1:5000/diabetes:latest",
     "localhost:5000/a/b/c:v1.2-rc_3", "diabetes@sha256:" + "ab" * 32, "docker.io/library/python:3.11-slim"],
)
def test_image_references_that_a_registry_accepts(image: str) -> None:
    assert spec(image=image).image == image


@pytest.mark.parametrize("image", ["", "Diabetes:3", "my image:3", "diabetes:", "diabetes:-3", "registry.example.com/", "a//b"])
def test_image_references_that_a_registry_refuses(image: str) -> None:
    with pytest.raises(InvalidConfiguration, match=r"invalid image reference .*\[registry/\]repository\[:tag\]"):
        spec(image=image)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": 0}, "invalid value for port, expected a whole number from 1 to 65535"),
        ({"port": 70000}, "invalid value for port"),
        ({"service_port": "80"}, "invalid value for service_port"),
        ({"replicas": 0}, "invalid value for replicas, expected a whole number 1 or more"),
        ({"replicas": True}, "invalid value for replicas"),
        ({"replicas": 2.0}, "invalid value for replicas"),
        ({"target_cpu_utilization": 0}, "invalid value for target_cpu_utilization"),
        ({"target_cpu_utilization": 101}, "invalid value for target_cpu_utilization"),
        ({"startup_timeout_s": 0}, "invalid value for startup_timeout_s"),
        ({"autoscale": "yes"}, "invalid value for autoscale, expected True or False"),
        ({"autoscale": False, "min_replicas": 2}, "min_replicas needs autoscale=True"),
        ({"autoscale": False, "max_replicas": 4}, "max_replicas needs autoscale=True"),
        ({"min_replicas": 0}, "invalid value for min_replicas"),
        ({"min_replicas": 5, "max_replicas": 3}, r"minimum \(5 replicas\) is above its maximum \(3\); pass max_replicas=5"),
        ({"replicas": 12}, r"minimum \(12 replicas\) is above its maximum \(10\)"),
        ({"cpu_request": "lots"}, "invalid cpu_request 'lots': expected a Kubernetes quantity"),
        ({"memory_limit": "512MB"}, "invalid memory_limit '512MB'"),
        ({"cpu_request": "0"}, "invalid cpu_request '0': it must be above zero"),
        ({"cpu_request": "2", "cpu_limit": "1500m"}, "cpu_request '2' is above cpu_limit '1500m'"),
        ({"memory_request": "1Gi", "memory_limit": "1000Mi"}, "memory_request '1Gi' is above memory_limit '1000Mi'"),
        ({"environment": {"1X": "a"}}, "invalid environment variable name '1X'"),
        ({"environment": {"WORKER_COUNT": 2}}, "environment variable WORKER_COUNT must be a string"),
        ({"labels": {"Team Name": "x"}}, "invalid label key 'Team Name'"),
        ({"labels": {"/team": "x"}}, "invalid label key '/team'"),
        ({"labels": {"Example.com/team": "x"}}, "invalid label key"),
        ({"labels": {"team": "-x"}}, "invalid value '-x' for label 'team'"),
        ({"labels": {"team": "x" * 64}}, "invalid value"),
        ({"labels": {"app.kubernetes.io/name": "other"}}, "label 'app.kubernetes.io/name' is set by mlnb"),
        ({"namespace": "ML"}, "invalid namespace 'ML'"),
        ({"namespace": "a" * 64}, "invalid namespace"),
        ({"entry_script": ""}, "invalid value for entry_script, expected a path"),
        ({"readiness_path": "ready"}, "invalid value for readiness_path, expected an HTTP path"),
        ({"liveness_path": "/a b"}, "invalid value for liveness_path"),
        ({"image_pull_secrets": "regcred"}, "image_pull_secrets takes a tuple of Secret names, not one string"),
        ({"image_pull_secrets": ("Reg_Cred",)}, "invalid image pull Secret name 'Reg_Cred'"),
    ],
)
def test_values_kubernetes_would_refuse_are_refused_with_one_line(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConfiguration, match=message) as caught:
        spec(**options)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, (1, 10)),
        ({"replicas": 3}, (3, 10)),
        ({"replicas": 3, "min_replicas": 2, "max_replicas": 6}, (2, 6)),
        ({"replicas": 12, "max_replicas": 20}, (12, 20)),
        ({"min_replicas": 4, "max_replicas": 4}, (4, 4)),
        ({"autoscale": False, "replicas": 3}, None),
    ],
)
def test_replica_range_follows_the_capacity_plan(options: dict[str, Any], expected: tuple[int, int] | None) -> None:
    assert spec(**options).replica_range == expected


def test_labels_with_prefixes_and_empty_values_are_kept_sorted() -> None:
    labels = {"team": "fraud", "example.com/cost-centre": "", "a.b-c.d/x_y.z": "v1.2"}
    assert list(spec(labels=labels).labels) == sorted(labels)


def test_a_spec_is_immutable_even_through_its_mappings() -> None:
    environment = {"WORKER_COUNT": "2"}
    made = spec(environment=environment, image_pull_secrets=["regcred"])
    environment["WORKER_COUNT"] = "8"

    assert made.environment == {"WORKER_COUNT": "2"}
    assert made.image_pull_secrets == ("regcred",)
    with pytest.raises(TypeError):
        made.environment["WORKER_COUNT"] = "8"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.replicas = 4  # type: ignore[misc]


def test_only_name_and_image_are_positional() -> None:
    with pytest.raises(TypeError):
        KubeSpec("diabetes", IMAGE, 5001)  # type: ignore[call-arg]
