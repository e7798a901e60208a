"""Where and how a service runs: :class:`DeploymentConfiguration`, built by
:meth:`LocalWebservice.deploy_configuration`, or loaded from the Azure CLI's
``deploymentconfig.json`` field names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlnb.config._backend_names import backend_names
from mlnb.config._json import read_json
from mlnb.errors import InvalidConfiguration

__all__ = ["DeploymentConfiguration", "LocalWebservice", "check_registry"]

_DC_FIELDS = (
    "computeType", "port", "cpuCores", "memoryGb", "containerResourceRequirements", "backend",
    "authEnabled", "baseImage", "environmentVariables", "workers",
    "registry", "replicas", "endpointMode", "network", "initSwarm", "collectData",
)
_SWARM = "swarm"
_ENDPOINT_MODES = ("vip", "dnsrr")
# host[:port][/namespace], as in a Distribution reference.
_REGISTRY = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d+)?"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_NETWORK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True, kw_only=True)
class DeploymentConfiguration:
    """Where and how a local service runs; built by :meth:`LocalWebservice.deploy_configuration`.

    Args:
        port: host port on 127.0.0.1, 1-65535; ``None`` picks a free one.
        cpu_cores: CPU limit for the container (a Swarm task's limit; fractions allowed).
        memory_gb: memory limit for the container (a Swarm task's limit), in GB.
        backend: ``"docker"``, ``"process"``, ``"swarm"``, or ``"auto"`` (Docker when an engine
            answers).
        auth_enabled: require a key on ``/score``; ``None`` means on for ``"swarm"`` (whose
            routing mesh publishes on every interface of every node) and off otherwise.
        base_image: image to build on; ``None`` means ``$MLNB_BASE_IMAGE`` or the default.
        environment_variables: extra variables for the service.
        workers: scoring worker processes (``WORKER_COUNT``); ``None`` lets the server decide.
        registry: push the built image to this registry (``host[:port][/namespace]``) with
            the Docker config's credentials; Swarm tasks then run the pushed image, so
            other nodes can pull it. ``None`` keeps the image on this engine.
        replicas: Swarm tasks to run (``"swarm"`` only).
        endpoint_mode: ``"vip"`` (Swarm's default: ``port`` published through the routing
            mesh on every node's interfaces) or ``"dnsrr"`` (nothing published: clients on
            ``network`` reach ``tasks.<service>``; for hosts without IPVS). ``"swarm"`` only.
        network: the attachable overlay network the Swarm service joins (created when
            missing); ``None`` means ``"mlnb"``. ``"swarm"`` only.
        init_swarm: initialise a single-node swarm (advertising 127.0.0.1) when the engine
            is in none; without it, deploying to a non-swarm engine is an error.
        collect_data: record every scoring request (inputs, outputs, status, latency) as
            Parquet in the workspace's ``collected/`` folder (``docs/monitoring.md``);
            process and Docker backends.

    Raises:
        InvalidConfiguration: for a value outside its range, a Swarm option without
            ``backend="swarm"``, or ``collect_data`` with ``backend="swarm"``.
    """

    port: int | None = None
    cpu_cores: float | None = None
    memory_gb: float | None = None
    backend: str = "auto"
    auth_enabled: bool | None = None
    base_image: str | None = None
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    workers: int | None = None
    registry: str | None = None
    replicas: int = 1
    endpoint_mode: str = "vip"
    network: str | None = None
    init_swarm: bool = False
    collect_data: bool = False

    # The environment-variable dict makes instances unhashable; say so instead of failing in hash().
    __hash__ = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.port is not None and (not _is_int(self.port) or not 1 <= self.port <= 65535):
            raise InvalidConfiguration(f"invalid value for port, expected None or an integer from 1 to 65535 (not {self.port!r})")
        for name in ("cpu_cores", "memory_gb"):
            value = getattr(self, name)
            if value is not None and not _is_positive_number(value):
                raise InvalidConfiguration(f"invalid value for {name}, expected a positive number (not {value!r})")
        if self.backend not in backend_names():
            expected = ", ".join(f'"{b}"' for b in backend_names())
            raise InvalidConfiguration(f"invalid value for backend, expected {expected} (not {self.backend!r})")
        if self.auth_enabled is None:
            object.__setattr__(self, "auth_enabled", self.backend == _SWARM)
        if not isinstance(self.auth_enabled, bool):
            raise InvalidConfiguration(f"invalid value for auth_enabled, expected True or False (not {self.auth_enabled!r})")
        if self.base_image is not None and (not isinstance(self.base_image, str) or not self.base_image or any(c.isspace() for c in self.base_image)):
            raise InvalidConfiguration(f"invalid value for base_image, expected an image name such as \"python:3.11-slim\" (not {self.base_image!r})")
        if self.workers is not None and (not _is_int(self.workers) or self.workers < 1):
            raise InvalidConfiguration(f"invalid value for workers, expected None or an integer of at least 1 (not {self.workers!r})")
        if not isinstance(self.environment_variables, Mapping):
            raise InvalidConfiguration(f"invalid value for environment_variables, expected a dict of strings (not {self.environment_variables!r})")
        for key, value in self.environment_variables.items():
            if not isinstance(key, str) or not key or "=" in key or not isinstance(value, str):
                raise InvalidConfiguration(f"invalid environment variable {key!r}={value!r}; names and values must be strings, names without '='")
        # A private copy, so later changes to the caller's dict cannot alter a frozen config.
        object.__setattr__(self, "environment_variables", dict(self.environment_variables))
        self._check_scale_out()
        self._check_collection()

    def _check_collection(self) -> None:
        if not isinstance(self.collect_data, bool):
            raise InvalidConfiguration(f"invalid value for collect_data, expected True or False (not {self.collect_data!r})")
        if self.collect_data and self.backend == _SWARM:
            # Tasks may run on any node: there is no workspace folder to write to there.
            raise InvalidConfiguration("collect_data works on the \"process\" and \"docker\" backends (not \"swarm\"); "
                                       "pass backend=\"docker\" or collect_data=False")

    def _check_scale_out(self) -> None:
        if self.registry is not None:
            check_registry(self.registry)
        if not _is_int(self.replicas) or self.replicas < 1:
            raise InvalidConfiguration(f"invalid value for replicas, expected a whole number of at least 1 (not {self.replicas!r})")
        if self.endpoint_mode not in _ENDPOINT_MODES:
            raise InvalidConfiguration(f"invalid value for endpoint_mode, expected \"vip\" or \"dnsrr\" (not {self.endpoint_mode!r})")
        if self.network is not None and (not isinstance(self.network, str) or not _NETWORK.fullmatch(self.network)):
            raise InvalidConfiguration(f"invalid value for network, expected a Docker network name such as \"mlnb\" (not {self.network!r})")
        if not isinstance(self.init_swarm, bool):
            raise InvalidConfiguration(f"invalid value for init_swarm, expected True or False (not {self.init_swarm!r})")
        if self.backend != _SWARM:
            given = [
                name
                for name, value, default in (
                    ("replicas", self.replicas, 1),
                    ("endpoint_mode", self.endpoint_mode, "vip"),
                    ("network", self.network, None),
                    ("init_swarm", self.init_swarm, False),
                )
                if value != default
            ]
            if given:
                raise InvalidConfiguration(f"{', '.join(given)} needs backend=\"swarm\" (not {self.backend!r}); pass backend=\"swarm\"")

    def serialize(self) -> dict[str, Any]:
        """Return the configuration as a JSON-ready dict (deploymentconfig.json field names)."""
        return {
            "computeType": "local",
            "port": self.port,
            "cpuCores": self.cpu_cores,
            "memoryGb": self.memory_gb,
            "backend": self.backend,
            "authEnabled": self.auth_enabled,
            "baseImage": self.base_image,
            "environmentVariables": dict(self.environment_variables),
            "workers": self.workers,
            "registry": self.registry,
            "replicas": self.replicas,
            "endpointMode": self.endpoint_mode,
            "network": self.network,
            "initSwarm": self.init_swarm,
            "collectData": self.collect_data,
        }

    @classmethod
    def deserialize(cls, data: Mapping[str, Any]) -> DeploymentConfiguration:
        """Build a configuration from :meth:`serialize`'s output or a deploymentconfig.json dict.

        Raises:
            InvalidConfiguration: for an unknown key or a value that cannot work.
        """
        return cls._from_mapping(data, source="deployment configuration")

    @classmethod
    def from_json(cls, path: str | Path) -> DeploymentConfiguration:
        """Load an Azure CLI ``deploymentconfig.json``.

        Accepted keys: ``computeType`` (``"local"``), ``port``, ``cpuCores``, ``memoryGb``,
        or Azure's ``containerResourceRequirements: {"cpu", "memoryInGB"}``, ``authEnabled``,
        ``environmentVariables``, and mlnb's ``backend``, ``baseImage``, ``workers``,
        ``registry``, ``collectData`` and the Swarm options ``replicas``, ``endpointMode``,
        ``network``, ``initSwarm``.

        Args:
            path: the JSON file.

        Returns:
            The configuration.

        Raises:
            InvalidConfiguration: when the file cannot be read, has an unknown key, or a
                value that cannot work.
        """
        return cls._from_mapping(read_json(Path(path)), source=str(path))

    @classmethod
    def _from_mapping(cls, data: Any, *, source: str) -> DeploymentConfiguration:
        if not isinstance(data, Mapping):
            raise InvalidConfiguration(f"{source} must hold a JSON object")
        for key in data:
            if key not in _DC_FIELDS:
                raise InvalidConfiguration(f"{source}: unknown key {key!r}; accepted: {', '.join(_DC_FIELDS)}")
        compute_type = data.get("computeType") or "local"
        if not isinstance(compute_type, str) or compute_type.lower() != "local":
            raise InvalidConfiguration(
                f"{source}: computeType {compute_type!r} is not supported; mlnb deploys locally: use \"local\" "
                "(containerResourceRequirements still become container limits)"
            )
        cpu, memory = data.get("cpuCores"), data.get("memoryGb")
        resources = data.get("containerResourceRequirements")
        if resources is not None:
            if not isinstance(resources, Mapping) or set(resources) - {"cpu", "memoryInGB"}:
                raise InvalidConfiguration(f"{source}: containerResourceRequirements accepts only 'cpu' and 'memoryInGB'")
            if (cpu is not None and "cpu" in resources) or (memory is not None and "memoryInGB" in resources):
                raise InvalidConfiguration(f"{source}: give cpuCores/memoryGb or containerResourceRequirements, not both")
            cpu = resources.get("cpu", cpu)
            memory = resources.get("memoryInGB", memory)
        return cls(
            port=data.get("port"),
            cpu_cores=cpu,
            memory_gb=memory,
            backend=data.get("backend") or "auto",
            auth_enabled=data.get("authEnabled"),
            base_image=data.get("baseImage"),
            environment_variables=data.get("environmentVariables") or {},
            workers=data.get("workers"),
            registry=data.get("registry"),
            replicas=data.get("replicas", 1),
            endpoint_mode=data.get("endpointMode") or "vip",
            network=data.get("network"),
            init_swarm=data.get("initSwarm", False),
            collect_data=data.get("collectData", False),
        )


class LocalWebservice:
    """Azure's ``LocalWebservice``, kept for its ``deploy_configuration`` factory."""

    @staticmethod
    def deploy_configuration(
        port: int | None = None,
        *,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        backend: str = "auto",
        auth_enabled: bool | None = None,
        base_image: str | None = None,
        environment_variables: Mapping[str, str] | None = None,
        workers: int | None = None,
        registry: str | None = None,
        replicas: int = 1,
        endpoint_mode: str = "vip",
        network: str | None = None,
        init_swarm: bool = False,
        collect_data: bool = False,
    ) -> DeploymentConfiguration:
        """Describe a local deployment, as ``LocalWebservice.deploy_configuration`` did in Azure.

        Args:
            port: host port on 127.0.0.1, 1-65535; ``None`` picks a free one.
            cpu_cores: CPU limit for the container (fractions allowed).
            memory_gb: memory limit for the container, in GB.
            backend: ``"docker"``, ``"process"``, ``"swarm"``, or ``"auto"`` (Docker when an
                engine answers).
            auth_enabled: require a key on ``/score``; ``None``: on for Swarm, else off.
            base_image: image to build on; ``None`` means ``$MLNB_BASE_IMAGE`` or the default.
            environment_variables: extra variables for the service.
            workers: scoring worker processes; ``None`` lets the server decide.
            registry: push the built image there (``host[:port][/namespace]``).
            replicas: Swarm tasks (``backend="swarm"``).
            endpoint_mode: ``"vip"`` (routing mesh) or ``"dnsrr"`` (overlay network only).
            network: the Swarm service's overlay network (default ``"mlnb"``).
            init_swarm: initialise a single-node swarm when the engine is in none.
            collect_data: record every scoring request as Parquet in the workspace
                (``service.get_collected_data()``); process and Docker backends.

        Returns:
            The validated configuration.

        Raises:
            InvalidConfiguration: for a value outside its range.

        Example::

            deployment_config = LocalWebservice.deploy_configuration(port=8890, memory_gb=1)
            swarm_config = LocalWebservice.deploy_configuration(backend="swarm", replicas=3, cpu_cores=0.5)
            collecting = LocalWebservice.deploy_configuration(backend="process", collect_data=True)
        """
        return DeploymentConfiguration(
            port=port,
            cpu_cores=cpu_cores,
            memory_gb=memory_gb,
            backend=backend,
            auth_enabled=auth_enabled,
            base_image=base_image,
            environment_variables=environment_variables or {},
            workers=workers,
            registry=registry,
            replicas=replicas,
            endpoint_mode=endpoint_mode,
            network=network,
            init_swarm=init_swarm,
            collect_data=collect_data,
        )


def check_registry(registry: object) -> str:
    """Return ``registry`` if it names a Docker registry: ``host[:port][/namespace]``.

    Raises:
        InvalidConfiguration: when it does not.
    """
    if not isinstance(registry, str) or not _REGISTRY.fullmatch(registry):
        raise InvalidConfiguration(
            f"invalid value for registry, expected host[:port][/namespace] such as \"127.0.0.1:5000\" or "
            f"\"registry.example.com/team\" (not {registry!r})"
        )
    return registry


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
