"""``mlnb k8s export``: Kubernetes manifests from a deployed service (its name, image, keys,
replicas, limits and environment), sized by the command's options.

``mlnb.kube`` stands on ``mlnb.errors`` alone, so reading a service record into a
:class:`~mlnb.kube.KubeSpec` happens here, in the front end.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from mlnb.deploy import Webservice
from mlnb.errors import InvalidConfiguration
from mlnb.kube import KubeSpec, resources_from_recommendation, write_manifests

__all__ = ["export_service", "spec_from_service"]


def spec_from_service(
    service: Webservice,
    *,
    image: str | None = None,
    replicas: int | None = None,
    max_replicas: int | None = None,
    recommendation: Mapping[str, float] | None = None,
    autoscale: bool = True,
    namespace: str | None = None,
) -> KubeSpec:
    """The :class:`KubeSpec` of a deployed service.

    - ``image``: given, else the image the service runs (Docker and Swarm backends; push it
      to a registry the cluster pulls from and pass that reference instead);
    - ``replicas``: given, else the service's own (1 outside Swarm); with ``autoscale`` the
      autoscaler's minimum, and ``max_replicas`` its maximum (default 10);
    - resources: from ``recommendation`` (``{'cpu': …, 'memoryInGB': …}``, as a capacity
      plan's or a profile's), else from the service's ``cpu_cores`` and ``memory_gb``
      when both are set, else Azure's AKS defaults;
    - auth when the service has keys; its environment variables, and ``WORKER_COUNT`` from
      ``workers``.

    Raises:
        InvalidConfiguration: for a service with no image (process backend) and no ``image``.
    """
    record = service._record
    config = record.spec["deploymentConfig"]
    chosen = image or record.runtime.get("image")
    if not isinstance(chosen, str) or not chosen:
        raise InvalidConfiguration(
            f"service {service.name!r} runs on the {record.backend} backend and has no image: pass image=... "
            "(Model.package builds one; push it to a registry the cluster can pull from)"
        )
    if recommendation is None and config.get("cpuCores") and config.get("memoryGb"):
        recommendation = {"cpu": config["cpuCores"], "memoryInGB": config["memoryGb"]}
    environment = dict(config.get("environmentVariables") or {})
    if config.get("workers"):
        environment["WORKER_COUNT"] = str(config["workers"])
    spec = KubeSpec(
        service.name,
        chosen,
        replicas=replicas if replicas is not None else int(config.get("replicas") or 1),
        autoscale=autoscale,
        max_replicas=max_replicas if autoscale else None,
        auth_enabled=record.keys is not None,
        environment=environment,
        namespace=namespace,
    )
    if recommendation is None:
        return spec
    return dataclasses.replace(spec, **resources_from_recommendation(recommendation))


def export_service(
    service: Webservice,
    out_dir: str | os.PathLike[str],
    *,
    image: str | None = None,
    replicas: int | None = None,
    max_replicas: int | None = None,
    recommendation: Mapping[str, float] | None = None,
    autoscale: bool = True,
    namespace: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write a deployed service's manifests and kustomize base to ``out_dir`` (its keys in ``secret.yaml``).

    The options are :func:`spec_from_service`'s; ``overwrite`` is :func:`write_manifests`'s.

    Returns:
        The files written.
    """
    spec = spec_from_service(service, image=image, replicas=replicas, max_replicas=max_replicas,
                             recommendation=recommendation, autoscale=autoscale, namespace=namespace)
    keys = service.get_keys() if spec.auth_enabled else None
    return write_manifests(spec, out_dir, keys=keys, overwrite=overwrite)
