"""The rendered objects fit together and fit the image mlnb builds."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
import yaml

from mlnb.errors import InvalidConfiguration
from mlnb.image import render_dockerfile
from mlnb.kube import KEYS_FILE, KubeSpec, render_manifests

IMAGE = "registry.example.com/diabetes:3"
KEYS = ["primary-key-0123456789", "secondary-key-9876543210"]


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = [m["kind"] for m in manifests]
    assert len(set(kinds)) == len(kinds)
    return {m["kind"]: m for m in manifests}


def container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    containers = by_kind(manifests)["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def image_cmd() -> list[str]:
    dockerfile = render_dockerfile(base_image="base", entry_script="score.py", model_dir="/models")
    line = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    return json.loads(line[len("CMD "):])  # type: ignore[no-any-return]


def test_the_default_objects_in_apply_order() -> None:
    kinds = [m["kind"] for m in render_manifests(KubeSpec("diabetes", IMAGE))]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]


def test_auth_adds_the_secret_first_and_no_autoscaling_drops_the_autoscaler() -> None:
    kinds = [m["kind"] for m in render_manifests(KubeSpec("diabetes", IMAGE, auth_enabled=True, autoscale=False), keys=KEYS)]
    assert kinds == ["Secret", "Deployment", "Service", "PodDisruptionBudget"]


def test_without_flags_to_add_the_container_runs_the_images_own_command() -> None:
    served = container(render_manifests(KubeSpec("diabetes", IMAGE)))
    assert "command" not in served and "args" not in served
    # What the image runs on its own is what the pod must expose and probe.
    assert image_cmd()[-2:] == ["--port", str(served["ports"][0]["containerPort"])]


@pytest.mark.parametrize(
    ("options", "extra"),
    [
        ({"auth_enabled": True}, ["--auth-keys-file", "/run/secrets/mlnb-keys/keys"]),
        ({"entry_script": "x/score.py", "model_dir": "/models/m/1"}, ["--entry-script", "x/score.py", "--model-dir", "/models/m/1"]),
    ],
)
def test_a_flag_to_add_extends_the_images_command(options: dict[str, Any], extra: list[str]) -> None:
    keys = KEYS if options.get("auth_enabled") else None
    served = container(render_manifests(KubeSpec("diabetes", IMAGE, **options), keys=keys))
    assert served["command"] + served["args"] == image_cmd() + extra


def test_another_port_is_passed_to_the_server_and_used_by_probes_and_service() -> None:
    manifests = render_manifests(KubeSpec("diabetes", IMAGE, port=8080, service_port=8000))
    served = container(manifests)
    assert served["args"] == ["--host", "0.0.0.0", "--port", "8080"]
    assert served["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert by_kind(manifests)["Service"]["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert served[probe]["httpGet"]["port"] == "http"


def test_probes_liveness_on_root_readiness_on_ready_startup_covers_init() -> None:
    served = container(render_manifests(KubeSpec("diabetes", IMAGE, startup_timeout_s=33)))
    assert served["livenessProbe"]["httpGet"]["path"] == "/"
    assert served["readinessProbe"]["httpGet"]["path"] == "/ready"
    startup = served["startupProbe"]
    assert startup["httpGet"]["path"] == "/"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 33
    assert startup["periodSeconds"] * (startup["failureThreshold"] - 1) < 33


def test_the_pod_meets_the_restricted_pod_security_standard() -> None:
    pod = by_kind(render_manifests(KubeSpec("diabetes", IMAGE)))["Deployment"]["spec"]["template"]["spec"]
    served = pod["containers"][0]
    dockerfile = render_dockerfile(base_image="base", entry_script="score.py", model_dir="/models")
    user = int(re.search(r"useradd --uid (\d+)", dockerfile).group(1))  # type: ignore[union-attr]

    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": user, "runAsGroup": user, "fsGroup": user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert served["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
        "readOnlyRootFilesystem": True, "runAsNonRoot": True,
    }
    assert pod["automountServiceAccountToken"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in served["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


def test_read_only_root_filesystem_can_be_turned_off() -> None:
    served = container(render_manifests(KubeSpec("diabetes", IMAGE, read_only_root_filesystem=False)))
    assert served["securityContext"]["readOnlyRootFilesystem"] is False


def test_requests_and_limits_come_from_the_spec() -> None:
    spec = KubeSpec("diabetes", IMAGE, cpu_request="800m", cpu_limit="1200m", memory_request="205Mi", memory_limit="308Mi")
    assert container(render_manifests(spec))["resources"] == {
        "requests": {"cpu": "800m", "memory": "205Mi"}, "limits": {"cpu": "1200m", "memory": "308Mi"},
    }


def test_the_keys_secret_is_mounted_as_the_file_the_server_reads() -> None:
    manifests = render_manifests(KubeSpec("diabetes", IMAGE, auth_enabled=True), keys=KEYS)
    secret = by_kind(manifests)["Secret"]
    pod = by_kind(manifests)["Deployment"]["spec"]["template"]["spec"]
    served = pod["containers"][0]

    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["keys"]).decode() == "primary-key-0123456789\nsecondary-key-9876543210\n"
    volume = next(v for v in pod["volumes"] if "secret" in v)
    assert volume["secret"]["secretName"] == secret["metadata"]["name"] == "diabetes-keys"
    assert volume["secret"]["defaultMode"] == 0o440
    mount = next(m for m in served["volumeMounts"] if m["name"] == volume["name"])
    assert mount["readOnly"] is True
    (item,) = volume["secret"]["items"]
    assert f"{mount['mountPath']}/{item['path']}" == KEYS_FILE
    assert served["args"][served["args"].index("--auth-keys-file") + 1] == KEYS_FILE


def test_no_key_appears_outside_the_secret() -> None:
    manifests = render_manifests(KubeSpec("diabetes", IMAGE, auth_enabled=True), keys=KEYS)
    secret_data = by_kind(manifests)["Secret"]["data"]["keys"]
    for manifest in manifests:
        if manifest["kind"] == "Secret":
            continue
        text = yaml.safe_dump(manifest)
        for secret in (*KEYS, secret_data, *(base64.b64encode(k.encode()).decode() for k in KEYS)):
            assert secret not in text, manifest["kind"]


def test_the_service_and_budget_select_the_deployments_pods() -> None:
    objects = by_kind(render_manifests(KubeSpec("diabetes", IMAGE, labels={"team": "fraud"})))
    deployment = objects["Deployment"]["spec"]
    pod_labels = deployment["template"]["metadata"]["labels"]
    selector = deployment["selector"]["matchLabels"]

    assert selector == {"app.kubernetes.io/name": "diabetes"}
    assert selector.items() <= pod_labels.items()
    assert objects["Service"]["spec"]["selector"] == selector
    assert objects["Service"]["spec"]["type"] == "ClusterIP"
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    assert objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": objects["Deployment"]["metadata"]["name"],
    }


def test_labels_and_namespace_are_on_every_object() -> None:
    manifests = render_manifests(KubeSpec("diabetes", IMAGE, labels={"team": "fraud"}, namespace="ml", auth_enabled=True), keys=KEYS)
    for manifest in manifests:
        assert manifest["metadata"]["namespace"] == "ml"
        assert manifest["metadata"]["labels"] == {
            "app.kubernetes.io/name": "diabetes", "app.kubernetes.io/managed-by": "mlnb", "team": "fraud",
        }


def test_the_autoscaler_follows_the_capacity_plan_and_owns_the_replica_count() -> None:
    objects = by_kind(render_manifests(KubeSpec("diabetes", IMAGE, replicas=3, max_replicas=8, target_cpu_utilization=60)))
    autoscaler = objects["HorizontalPodAutoscaler"]["spec"]
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (3, 8)
    assert autoscaler["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
    ]
    # kubectl apply would reset an autoscaled Deployment to a replicas field on every apply.
    assert "replicas" not in objects["Deployment"]["spec"]


def test_without_autoscaling_the_deployment_has_the_replicas() -> None:
    objects = by_kind(render_manifests(KubeSpec("diabetes", IMAGE, replicas=4, autoscale=False)))
    assert objects["Deployment"]["spec"]["replicas"] == 4


def test_updates_start_a_new_pod_before_stopping_an_old_one() -> None:
    strategy = by_kind(render_manifests(KubeSpec("diabetes", IMAGE)))["Deployment"]["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


@pytest.mark.parametrize(
    ("options", "min_available"),
    [
        ({}, 0),                                         # one pod: a budget of 1 would block every drain
        ({"replicas": 2}, 1),
        ({"replicas": 5}, 4),
        ({"min_replicas": 3, "max_replicas": 9}, 2),     # the autoscaler's floor, not its ceiling
        ({"autoscale": False, "replicas": 4}, 3),
        ({"autoscale": False}, 0),
    ],
)
def test_the_disruption_budget_lets_a_drain_evict_one_pod_at_a_time(options: dict[str, Any], min_available: int) -> None:
    budget = by_kind(render_manifests(KubeSpec("diabetes", IMAGE, **options)))["PodDisruptionBudget"]
    assert budget["spec"]["minAvailable"] == min_available


def test_environment_and_pull_secrets_reach_the_pod() -> None:
    spec = KubeSpec("diabetes", IMAGE, environment={"WORKER_COUNT": "2", "AML_CORS_ORIGINS": "*"}, image_pull_secrets=("regcred",))
    pod = by_kind(render_manifests(spec))["Deployment"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["env"] == [{"name": "AML_CORS_ORIGINS", "value": "*"}, {"name": "WORKER_COUNT", "value": "2"}]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]


def test_rendering_is_deterministic() -> None:
    spec = KubeSpec("diabetes", IMAGE, auth_enabled=True, labels={"b": "2", "a": "1"})
    assert yaml.safe_dump_all(render_manifests(spec, keys=KEYS), sort_keys=False) == yaml.safe_dump_all(
        render_manifests(spec, keys=KEYS), sort_keys=False
    )


@pytest.mark.parametrize(
    ("auth", "keys", "message"),
    [
        (True, None, r"auth_enabled is True: pass keys=\[primary, secondary\]"),
        (True, [], "auth_enabled is True"),
        (True, "one-key", "auth_enabled is True"),
        (False, KEYS, "keys were given but auth_enabled is False"),
        (True, ["good-key", ""], "key 2 is empty or holds whitespace"),
        (True, ["bad key"], "key 1 is empty or holds whitespace"),
        (True, ["bad\nkey"], "key 1"),
        (True, ["bad\x00key"], "key 1"),
        (True, ["same-key", "same-key"], "the same key is given twice"),
    ],
)
def test_keys_that_cannot_work_are_refused_without_echoing_them(auth: bool, keys: Any, message: str) -> None:
    with pytest.raises(InvalidConfiguration, match=message) as caught:
        render_manifests(KubeSpec("diabetes", IMAGE, auth_enabled=auth), keys=keys)
    for key in keys or ():
        if len(key) > 3:
            assert key not in str(caught.value)
