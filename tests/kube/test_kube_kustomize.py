"""``kubectl kustomize`` renders the written base offline, as ``kubectl apply -k`` would apply it.

No cluster can run here, and ``kubectl apply --dry-run=client`` needs an API server, but
``kubectl kustomize`` does not. The base uses kustomize's ``labels`` field with
``includeTemplates``, which kubectl 1.24 and newer understand (kustomize 4.5); the tests
skip, saying why, without such a kubectl. Debian 12's ``kubernetes-client`` is 1.20: too old.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from mlnb.kube import KubeSpec, write_manifests

KEYS = ["primary-key-0123456789", "secondary-key-9876543210"]
MIN_KUBECTL_MINOR = 24


def _kubectl() -> tuple[str | None, str]:
    path = shutil.which("kubectl")
    if path is None:
        return None, f"kubectl is not installed (any kubectl 1.{MIN_KUBECTL_MINOR} or newer renders kustomize bases offline)"
    result = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60)
    try:
        minor = int("".join(c for c in json.loads(result.stdout)["clientVersion"]["minor"] if c.isdigit()))
    except (ValueError, KeyError):
        return None, f"cannot read the version of {path}: {result.stdout or result.stderr}"
    if minor < MIN_KUBECTL_MINOR:
        return None, (
            f"{path} is kubectl 1.{minor}; kustomize's labels field with includeTemplates needs "
            f"kubectl 1.{MIN_KUBECTL_MINOR} or newer"
        )
    return path, ""


KUBECTL, WHY_NOT = _kubectl()
pytestmark = pytest.mark.skipif(KUBECTL is None, reason=WHY_NOT)


def kustomize(folder: Path) -> list[dict[str, Any]]:
    assert KUBECTL is not None
    result = subprocess.run([KUBECTL, "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def test_the_base_renders_every_kind_and_each_passes_the_schemas(tmp_path: Path) -> None:
    spec = KubeSpec("diabetes", "registry.example.com/diabetes:3", auth_enabled=True, labels={"team": "fraud"}, namespace="ml")
    write_manifests(spec, tmp_path / "k8s", keys=KEYS)

    documents = kustomize(tmp_path / "k8s")

    assert sorted(d["kind"] for d in documents) == [
        "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret", "Service",
    ]
    for document in documents:
        kubernetes_validate.validate(document, latest_version(), strict=True)
        assert document["metadata"]["namespace"] == "ml"
        assert document["metadata"]["labels"]["team"] == "fraud"


def test_an_overlay_points_the_base_at_the_users_registry(tmp_path: Path) -> None:
    write_manifests(KubeSpec("diabetes", "diabetes:3"), tmp_path / "base")
    overlay = tmp_path / "production"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["../base"],
        "images": [{"name": "diabetes", "newName": "registry.example.com/team/diabetes", "newTag": "4"}],
        "labels": [{"pairs": {"environment": "production"}, "includeTemplates": True}],
    }))

    documents = {d["kind"]: d for d in kustomize(overlay)}

    pod = documents["Deployment"]["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == "registry.example.com/team/diabetes:4"
    assert pod["metadata"]["labels"]["environment"] == "production"
    # An overlay's labels stay out of the selector, which a Deployment cannot change.
    assert documents["Deployment"]["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "diabetes"}}
