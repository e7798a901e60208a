"""The manifests themselves: Secret, Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget.

Each object is a plain ``dict`` with its fields in one fixed order (``apiVersion``, ``kind``,
``metadata``, then the spec, the way manifests are usually written), so the YAML is the
same on every run.

What the pods run with, and why:

- The image's own ``CMD`` (``python -m mlnb.serving --host 0.0.0.0 --port 5001``, with the
  entry script and model folder in its environment). Only when a flag must be added —
  ``--auth-keys-file`` for keys, a different port, entry script or model folder — does
  the container get an explicit ``command`` and ``args``.
- The Pod Security Standards' *restricted* profile: user 10001 (the image's ``mlnb``
  user), no privilege escalation, every capability dropped, the runtime's default
  seccomp profile, a read-only root filesystem with an ``emptyDir`` at ``/tmp`` (the only
  place the server writes), and no service-account token (the server never calls the
  Kubernetes API).
- Three probes: a startup probe on the liveness route gives ``init()`` up to
  ``startup_timeout_s``; then liveness restarts a hung server and readiness keeps a pod
  out of the Service until ``init()`` has succeeded.
- Rolling updates that start a new pod before stopping an old one (``maxUnavailable: 0``),
  so a bad image never takes the service down; pods spread across nodes where possible.
- With autoscaling the Deployment leaves ``spec.replicas`` to the autoscaler, as the
  Kubernetes documentation advises: otherwise every ``kubectl apply`` would reset it.
- Keys live in a Secret mounted read-only as one file, one key per line, readable by the
  pod's group only; the Deployment names the Secret and never holds a key.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

from mlnb.errors import InvalidConfiguration
from mlnb.kube._spec import KubeSpec

__all__ = ["IMAGE_USER_ID", "KEYS_FILE", "KEYS_MOUNT_PATH", "render_manifests", "secret_name"]

#: The user (and group) the image mlnb builds runs as.
IMAGE_USER_ID = 10001
#: Where the keys Secret is mounted in the container.
KEYS_MOUNT_PATH = "/run/secrets/mlnb-keys"
#: The file the server reads its keys from (``--auth-keys-file``), one key per line.
KEYS_FILE = f"{KEYS_MOUNT_PATH}/keys"

_PORT_NAME = "http"
_KEYS_ITEM = "keys"
_PROBE_PERIOD_S = 5
# Owner and group may read, nobody may write: with fsGroup the group is the pod's user's.
_KEYS_FILE_MODE = 0o440
_TMP_SIZE_LIMIT = "64Mi"
Manifest = dict[str, Any]


def render_manifests(spec: KubeSpec, *, keys: Sequence[str] | None = None) -> list[Manifest]:
    """Render the Kubernetes objects that run ``spec``.

    Args:
        spec: the service.
        keys: the accepted auth keys (primary first), required when
            ``spec.auth_enabled`` and refused otherwise. They appear only in the Secret.

    Returns:
        In apply order: the keys Secret (with auth), the Deployment, the ClusterIP
        Service, the HorizontalPodAutoscaler (with autoscaling) and the
        PodDisruptionBudget.

    Raises:
        InvalidConfiguration: for keys missing with auth on, given with auth off, empty,
            repeated, or holding whitespace (the keys file has one key per line).

    Example::

        manifests = render_manifests(KubeSpec("diabetes", "registry.example.com/diabetes:3",
                                              auth_enabled=True), keys=service.get_keys())
    """
    checked = _checked_keys(spec, keys)
    manifests: list[Manifest] = []
    if checked is not None:
        manifests.append(_secret(spec, checked))
    manifests.append(_deployment(spec))
    manifests.append(_service(spec))
    if spec.replica_range is not None:
        manifests.append(_autoscaler(spec, *spec.replica_range))
    manifests.append(_disruption_budget(spec))
    return manifests


def secret_name(spec: KubeSpec) -> str:
    """The name of the Secret that holds ``spec``'s keys."""
    return f"{spec.name}-keys"


def _checked_keys(spec: KubeSpec, keys: Sequence[str] | None) -> tuple[str, ...] | None:
    if not spec.auth_enabled:
        if keys is not None:
            raise InvalidConfiguration("keys were given but auth_enabled is False; pass auth_enabled=True or no keys")
        return None
    if keys is None or isinstance(keys, str) or len(keys) == 0:
        raise InvalidConfiguration("auth_enabled is True: pass keys=[primary, secondary] (e.g. service.get_keys())")
    for position, key in enumerate(keys, start=1):
        # Never echo a key: the message says which one and why, not what it is.
        if not isinstance(key, str) or not key or any(c.isspace() or not c.isprintable() for c in key):
            raise InvalidConfiguration(
                f"key {position} is empty or holds whitespace or control characters; keys are printable, one per line"
            )
    if len(set(keys)) != len(keys):
        raise InvalidConfiguration("the same key is given twice; pass distinct keys")
    return tuple(keys)


def _metadata(spec: KubeSpec, name: str) -> Manifest:
    metadata: Manifest = {"name": name}
    if spec.namespace is not None:
        metadata["namespace"] = spec.namespace
    metadata["labels"] = _labels(spec)
    return metadata


def _labels(spec: KubeSpec) -> dict[str, str]:
    return {**_selector(spec), "app.kubernetes.io/managed-by": "mlnb", **spec.labels}


def _selector(spec: KubeSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name}


def _secret(spec: KubeSpec, keys: tuple[str, ...]) -> Manifest:
    content = "".join(f"{key}\n" for key in keys).encode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(spec, secret_name(spec)),
        "type": "Opaque",
        "data": {_KEYS_ITEM: base64.b64encode(content).decode("ascii")},
    }


def _deployment(spec: KubeSpec) -> Manifest:
    deployment_spec: Manifest = {}
    if spec.replica_range is None:
        deployment_spec["replicas"] = spec.replicas
    deployment_spec["selector"] = {"matchLabels": _selector(spec)}
    deployment_spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    deployment_spec["template"] = {"metadata": {"labels": _labels(spec)}, "spec": _pod_spec(spec)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(spec, spec.name), "spec": deployment_spec}


def _pod_spec(spec: KubeSpec) -> Manifest:
    volumes: list[Manifest] = [{"name": "tmp", "emptyDir": {"sizeLimit": _TMP_SIZE_LIMIT}}]
    if spec.auth_enabled:
        volumes.append({
            "name": "keys",
            "secret": {
                "secretName": secret_name(spec),
                "items": [{"key": _KEYS_ITEM, "path": _KEYS_ITEM}],
                "defaultMode": _KEYS_FILE_MODE,
            },
        })
    pod: Manifest = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": IMAGE_USER_ID,
            "runAsGroup": IMAGE_USER_ID,
            "fsGroup": IMAGE_USER_ID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if spec.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in spec.image_pull_secrets]
    pod["containers"] = [_container(spec)]
    pod["topologySpreadConstraints"] = [{
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": _selector(spec)},
    }]
    pod["volumes"] = volumes
    return pod


def _container(spec: KubeSpec) -> Manifest:
    container: Manifest = {"name": "server", "image": spec.image}
    if not spec.uses_image_command:
        container["command"] = ["python", "-m", "mlnb.serving"]
        container["args"] = _server_args(spec)
    if spec.environment:
        container["env"] = [{"name": name, "value": value} for name, value in spec.environment.items()]
    container["ports"] = [{"name": _PORT_NAME, "containerPort": spec.port, "protocol": "TCP"}]
    container["resources"] = {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
        "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit},
    }
    container["startupProbe"] = _probe(
        spec.liveness_path, period_s=_PROBE_PERIOD_S, failures=math.ceil(spec.startup_timeout_s / _PROBE_PERIOD_S)
    )
    container["livenessProbe"] = _probe(spec.liveness_path, period_s=10, failures=3)
    container["readinessProbe"] = _probe(spec.readiness_path, period_s=_PROBE_PERIOD_S, failures=3)
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": spec.read_only_root_filesystem,
        "runAsNonRoot": True,
    }
    mounts: list[Manifest] = [{"name": "tmp", "mountPath": "/tmp"}]
    if spec.auth_enabled:
        mounts.append({"name": "keys", "mountPath": KEYS_MOUNT_PATH, "readOnly": True})
    container["volumeMounts"] = mounts
    return container


def _server_args(spec: KubeSpec) -> list[str]:
    args = ["--host", "0.0.0.0", "--port", str(spec.port)]
    if spec.entry_script is not None:
        args += ["--entry-script", spec.entry_script]
    if spec.model_dir is not None:
        args += ["--model-dir", spec.model_dir]
    if spec.auth_enabled:
        args += ["--auth-keys-file", KEYS_FILE]
    return args


def _probe(path: str, *, period_s: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": _PORT_NAME},
        "periodSeconds": period_s,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _service(spec: KubeSpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "type": "ClusterIP",
            "selector": _selector(spec),
            "ports": [{"name": _PORT_NAME, "port": spec.service_port, "targetPort": _PORT_NAME, "protocol": "TCP"}],
        },
    }


def _autoscaler(spec: KubeSpec, low: int, high: int) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": spec.target_cpu_utilization}},
            }],
        },
    }


def _disruption_budget(spec: KubeSpec) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(spec, spec.name),
        "spec": {"minAvailable": _min_available(spec), "selector": {"matchLabels": _selector(spec)}},
    }


def _min_available(spec: KubeSpec) -> int:
    """How many pods a voluntary disruption (a node drain) must leave running.

    One fewer than the floor (the autoscaler's minimum, or the fixed replica count), so
    a drain evicts one pod at a time and never goes below that floor minus one. A single
    replica gets 0: a budget of 1 would block every drain forever, and evicting the only
    pod is an outage whatever the budget says.
    """
    floor = spec.replica_range[0] if spec.replica_range is not None else spec.replicas
    return floor - 1
