"""Kubernetes manifests for a scoring service, sized from its profile, validated offline.

mlnb writes what a cluster runs and never talks to one: a Deployment, a ClusterIP
Service, a HorizontalPodAutoscaler, a PodDisruptionBudget and (with auth) a Secret for the
keys, as plain YAML plus a kustomize base that ``kubectl apply -k DIR`` applies::

    from mlnb.kube import KubeSpec, resources_from_recommendation, write_manifests

    spec = KubeSpec("diabetes", "registry.example.com/diabetes:3", replicas=2,
                    **resources_from_recommendation(profile.get_results()))
    write_manifests(spec, "k8s/diabetes")
"""

from __future__ import annotations

from mlnb.kube._render import KEYS_FILE, render_manifests
from mlnb.kube._resources import DEFAULT_HEADROOM, ContainerResources, resources_from_recommendation
from mlnb.kube._spec import KubeSpec
from mlnb.kube._write import write_manifests

__all__ = [
    "ContainerResources",
    "DEFAULT_HEADROOM",
    "KEYS_FILE",
    "KubeSpec",
    "render_manifests",
    "resources_from_recommendation",
    "write_manifests",
]
