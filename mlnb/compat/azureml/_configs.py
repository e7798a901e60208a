"""Azure's deployment configurations, and what each becomes locally.

- ``LocalWebservice.deploy_configuration(port)`` -> one local service on ``127.0.0.1:port``;
- ``AciWebservice.deploy_configuration(cpu_cores, memory_gb, auth_enabled, …)`` -> one
  local service with those CPU and memory limits and key auth; Azure's other settings (TLS,
  DNS, VNet, keys, Application Insights, data collection, encryption) have no local meaning
  and one note names those given;
- ``AksWebservice.deploy_configuration(num_replicas, autoscale_enabled, …)`` -> kept whole;
  ``Model.deploy`` runs it as a Docker Swarm service when the engine is a swarm manager
  (``num_replicas``, else ``autoscale_min_replicas``, replicas; nothing autoscales
  locally), and :meth:`AksServiceDeploymentConfiguration.to_kube_spec` turns it into
  mlnb's :class:`mlnb.kube.KubeSpec` (Kubernetes manifests).

The local services run on the backend named by the ``backend=`` keyword of
``LocalWebservice.deploy_configuration`` / ``AciWebservice.deploy_configuration`` (an mlnb
extra), else by ``MLNB_AZUREML_BACKEND``, else ``"auto"`` (Docker when an engine answers,
else a local process). Azure's ``LocalWebservice`` was always Docker.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from mlnb.compat.azureml._notes import note, note_unused
from mlnb.config import DeploymentConfiguration
from mlnb.errors import InvalidConfiguration
from mlnb.kube import KubeSpec

__all__ = [
    "BACKEND_ENV",
    "AciServiceDeploymentConfiguration",
    "AksServiceDeploymentConfiguration",
    "LocalWebserviceDeploymentConfiguration",
    "WebserviceDeploymentConfiguration",
    "backend_for",
]

BACKEND_ENV = "MLNB_AZUREML_BACKEND"
"""The backend the Azure layer deploys on when no ``backend=`` is passed: ``docker``, ``process`` or ``auto``."""


def backend_for(backend: str | None) -> str:
    """``backend`` if given, else ``$MLNB_AZUREML_BACKEND``, else ``"auto"``."""
    return backend or os.environ.get(BACKEND_ENV) or "auto"


class WebserviceDeploymentConfiguration:
    """What every Azure deployment configuration has: a check and a printout."""

    _fields: tuple[str, ...] = ()

    def validate_configuration(self) -> None:
        """Check every value Azure would check here.

        Raises:
            InvalidConfiguration: for a value out of range.
        """
        for name in ("cpu_cores", "memory_gb", "cpu_cores_limit", "memory_gb_limit"):
            value = getattr(self, name, None)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0):
                raise InvalidConfiguration(f"invalid value for {name}, expected a positive number (not {value!r})")
        port = getattr(self, "port", None)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
            raise InvalidConfiguration(f"invalid value for port, expected an integer from 1 to 65535 (not {port!r})")

    def print_deploy_configuration(self) -> None:
        """Print the values that are set."""
        for name in self._fields:
            value = getattr(self, name)
            if value is not None:
                print(f"{name}: {value}")

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields if getattr(self, name) is not None)
        return f"{type(self).__name__}({values})"


class LocalWebserviceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    """A local service on ``127.0.0.1:port`` (a free port when ``None``).

    Args:
        port: the host port.
        backend: mlnb's backend (``"docker"``, ``"process"``, ``"auto"``); default
            ``$MLNB_AZUREML_BACKEND`` or ``"auto"``.
    """

    _fields = ("port", "description", "location", "primary_key", "secondary_key", "tags", "properties")

    def __init__(self, port: int | None = None, *, backend: str | None = None) -> None:
        self.port = port
        self.description: str | None = None
        self.location: str | None = None
        self.primary_key: str | None = None
        self.secondary_key: str | None = None
        self.tags: dict[str, str] | None = None
        self.properties: dict[str, str] | None = None
        self.backend = backend_for(backend)
        self.validate_configuration()

    def _to_mlnb(self, *, base_image: str | None, environment_variables: Mapping[str, str]) -> DeploymentConfiguration:
        return DeploymentConfiguration(port=self.port, backend=self.backend, base_image=base_image,
                                       environment_variables=environment_variables)


class AciServiceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    """An Azure Container Instance: locally, one service with CPU and memory limits.

    Args are Azure's; ``cpu_cores``, ``memory_gb`` and ``auth_enabled`` apply (limits on
    the Docker backend; a process has none), ``tags``, ``properties`` and ``description``
    are kept with the service, and one note names the others given. ``backend`` is mlnb's.
    """

    _fields = ("cpu_cores", "memory_gb", "tags", "properties", "description", "location", "auth_enabled", "ssl_enabled",
               "enable_app_insights", "ssl_cert_pem_file", "ssl_key_pem_file", "ssl_cname", "dns_name_label", "primary_key",
               "secondary_key", "collect_model_data", "cmk_vault_base_url", "cmk_key_name", "cmk_key_version", "vnet_name",
               "subnet_name")
    _unused = ("location", "ssl_enabled", "enable_app_insights", "ssl_cert_pem_file", "ssl_key_pem_file", "ssl_cname",
               "dns_name_label", "primary_key", "secondary_key", "collect_model_data", "cmk_vault_base_url", "cmk_key_name",
               "cmk_key_version", "vnet_name", "subnet_name")

    def __init__(self, cpu_cores: float | None = None, memory_gb: float | None = None, tags: dict[str, str] | None = None,
                 properties: dict[str, str] | None = None, description: str | None = None, location: str | None = None,
                 auth_enabled: bool | None = None, ssl_enabled: bool | None = None, enable_app_insights: bool | None = None,
                 ssl_cert_pem_file: str | None = None, ssl_key_pem_file: str | None = None, ssl_cname: str | None = None,
                 dns_name_label: str | None = None, primary_key: str | None = None, secondary_key: str | None = None,
                 collect_model_data: bool | None = None, cmk_vault_base_url: str | None = None,
                 cmk_key_name: str | None = None, cmk_key_version: str | None = None, vnet_name: str | None = None,
                 subnet_name: str | None = None, *, backend: str | None = None) -> None:
        self.cpu_cores = cpu_cores
        self.memory_gb = memory_gb
        self.tags = tags
        self.properties = properties
        self.description = description
        self.location = location
        self.auth_enabled = auth_enabled
        self.ssl_enabled = ssl_enabled
        self.enable_app_insights = enable_app_insights
        self.ssl_cert_pem_file = ssl_cert_pem_file
        self.ssl_key_pem_file = ssl_key_pem_file
        self.ssl_cname = ssl_cname
        self.dns_name_label = dns_name_label
        self.primary_key = primary_key
        self.secondary_key = secondary_key
        self.collect_model_data = collect_model_data
        self.cmk_vault_base_url = cmk_vault_base_url
        self.cmk_key_name = cmk_key_name
        self.cmk_key_version = cmk_key_version
        self.vnet_name = vnet_name
        self.subnet_name = subnet_name
        self.backend = backend_for(backend)
        self.validate_configuration()
        note_unused("AciWebservice.deploy_configuration", {name: getattr(self, name) for name in self._unused},
                    "a local container has no Azure TLS, DNS, network, encryption, monitoring or preset keys")

    def _to_mlnb(self, *, base_image: str | None, environment_variables: Mapping[str, str]) -> DeploymentConfiguration:
        return DeploymentConfiguration(cpu_cores=self.cpu_cores, memory_gb=self.memory_gb, backend=self.backend,
                                       auth_enabled=bool(self.auth_enabled), base_image=base_image,
                                       environment_variables=environment_variables)


class AksServiceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    """An Azure Kubernetes Service deployment: replicas, autoscaling, resources, probes.

    Every Azure argument is kept. ``Model.deploy`` runs it on mlnb's Swarm backend (see
    :meth:`_to_mlnb`); :meth:`to_kube_spec` maps it onto mlnb's Kubernetes manifests.
    """

    _fields = ("autoscale_enabled", "autoscale_min_replicas", "autoscale_max_replicas", "autoscale_refresh_seconds",
               "autoscale_target_utilization", "collect_model_data", "auth_enabled", "cpu_cores", "memory_gb",
               "enable_app_insights", "scoring_timeout_ms", "replica_max_concurrent_requests", "max_request_wait_time",
               "num_replicas", "primary_key", "secondary_key", "tags", "properties", "description", "gpu_cores",
               "period_seconds", "initial_delay_seconds", "timeout_seconds", "success_threshold", "failure_threshold",
               "namespace", "token_auth_enabled", "compute_target_name", "cpu_cores_limit", "memory_gb_limit",
               "blobfuse_enabled", "location")
    _not_in_kube = ("autoscale_refresh_seconds", "collect_model_data", "enable_app_insights", "replica_max_concurrent_requests",
                    "max_request_wait_time", "primary_key", "secondary_key", "tags", "properties", "description", "gpu_cores",
                    "period_seconds", "initial_delay_seconds", "timeout_seconds", "success_threshold", "failure_threshold",
                    "token_auth_enabled", "compute_target_name", "blobfuse_enabled")

    def __init__(self, autoscale_enabled: bool | None, autoscale_min_replicas: int | None,
                 autoscale_max_replicas: int | None, autoscale_refresh_seconds: int | None,
                 autoscale_target_utilization: int | None, collect_model_data: bool | None, auth_enabled: bool | None,
                 cpu_cores: float | None, memory_gb: float | None, enable_app_insights: bool | None,
                 scoring_timeout_ms: int | None, replica_max_concurrent_requests: int | None,
                 max_request_wait_time: int | None, num_replicas: int | None, primary_key: str | None,
                 secondary_key: str | None, tags: dict[str, str] | None, properties: dict[str, str] | None,
                 description: str | None, gpu_cores: int | None, period_seconds: int | None,
                 initial_delay_seconds: int | None, timeout_seconds: int | None, success_threshold: int | None,
                 failure_threshold: int | None, namespace: str | None, token_auth_enabled: bool | None,
                 compute_target_name: str | None, cpu_cores_limit: float | None, memory_gb_limit: float | None,
                 blobfuse_enabled: bool | None = None) -> None:
        self.autoscale_enabled = autoscale_enabled
        self.autoscale_min_replicas = autoscale_min_replicas
        self.autoscale_max_replicas = autoscale_max_replicas
        self.autoscale_refresh_seconds = autoscale_refresh_seconds
        self.autoscale_target_utilization = autoscale_target_utilization
        self.collect_model_data = collect_model_data
        self.auth_enabled = auth_enabled
        self.cpu_cores = cpu_cores
        self.memory_gb = memory_gb
        self.enable_app_insights = enable_app_insights
        self.scoring_timeout_ms = scoring_timeout_ms
        self.replica_max_concurrent_requests = replica_max_concurrent_requests
        self.max_request_wait_time = max_request_wait_time
        self.num_replicas = num_replicas
        self.primary_key = primary_key
        self.secondary_key = secondary_key
        self.tags = tags
        self.properties = properties
        self.description = description
        self.gpu_cores = gpu_cores
        self.period_seconds = period_seconds
        self.initial_delay_seconds = initial_delay_seconds
        self.timeout_seconds = timeout_seconds
        self.success_threshold = success_threshold
        self.failure_threshold = failure_threshold
        self.namespace = namespace
        self.token_auth_enabled = token_auth_enabled
        self.compute_target_name = compute_target_name
        self.cpu_cores_limit = cpu_cores_limit
        self.memory_gb_limit = memory_gb_limit
        self.blobfuse_enabled = blobfuse_enabled
        self.location: str | None = None
        self.validate_configuration()

    _not_on_swarm = ("autoscale_max_replicas", "autoscale_refresh_seconds", "autoscale_target_utilization",
                     "collect_model_data", "enable_app_insights", "replica_max_concurrent_requests", "max_request_wait_time",
                     "primary_key", "secondary_key", "gpu_cores", "period_seconds", "initial_delay_seconds", "timeout_seconds",
                     "success_threshold", "failure_threshold", "namespace", "token_auth_enabled", "compute_target_name",
                     "cpu_cores_limit", "memory_gb_limit", "blobfuse_enabled")

    @property
    def replicas(self) -> int:
        """The replicas a Swarm service of this configuration runs: ``num_replicas``, else
        ``autoscale_min_replicas``, else 1."""
        return self.num_replicas or self.autoscale_min_replicas or 1

    def _to_mlnb(self, *, base_image: str | None, environment_variables: Mapping[str, str]) -> DeploymentConfiguration:
        """The Swarm service of these settings: :attr:`replicas` tasks with ``cpu_cores`` /
        ``memory_gb`` as each one's limits, key auth unless ``auth_enabled=False`` (Azure's
        default is on), ``scoring_timeout_ms``; one note names the settings Swarm has no use
        for, and one says that nothing autoscales."""
        note_unused("AksWebservice on Swarm", {n: getattr(self, n) for n in self._not_on_swarm},
                    "a local Swarm service has no Azure probes, GPUs, monitoring, namespaces or preset keys")
        if self.autoscale_enabled or (self.autoscale_enabled is None and self.num_replicas is None):
            note(f"AksWebservice on Swarm: nothing autoscales locally; the service runs {self.replicas} replica(s) "
                 "(num_replicas, else autoscale_min_replicas), and service.mlnb.scale(n) changes that")
        environment = dict(environment_variables)
        if self.scoring_timeout_ms:
            environment["SCORING_TIMEOUT_MS"] = str(self.scoring_timeout_ms)
        return DeploymentConfiguration(backend="swarm", replicas=self.replicas, cpu_cores=self.cpu_cores,
                                       memory_gb=self.memory_gb, auth_enabled=self.auth_enabled is not False,
                                       base_image=base_image, environment_variables=environment)

    def to_kube_spec(self, name: str, image: str) -> KubeSpec:
        """mlnb's Kubernetes description of this deployment, for ``mlnb.kube.write_manifests``.

        ``num_replicas`` -> ``replicas``; ``autoscale_enabled`` (default: on unless
        ``num_replicas`` is set), ``autoscale_min_replicas``, ``autoscale_max_replicas``,
        ``autoscale_target_utilization`` -> the autoscaler; ``cpu_cores``/``memory_gb`` ->
        requests (Azure's defaults 0.1 core and 0.5 GB), ``cpu_cores_limit``/``memory_gb_limit``
        -> limits (default: the requests); ``auth_enabled`` (Azure's default: on) -> key auth;
        ``scoring_timeout_ms`` -> ``SCORING_TIMEOUT_MS``; ``namespace``. One note names the
        other settings given.

        Args:
            name: the service name.
            image: the image reference the cluster pulls (from ``Model.package``, pushed to a registry).

        Returns:
            The spec.
        """
        note_unused("AksServiceDeploymentConfiguration.to_kube_spec", {n: getattr(self, n) for n in self._not_in_kube},
                    "mlnb's manifests set them from the image and the profile")
        cpu = self.cpu_cores if self.cpu_cores is not None else 0.1
        memory = self.memory_gb if self.memory_gb is not None else 0.5
        autoscale = self.autoscale_enabled if self.autoscale_enabled is not None else self.num_replicas is None
        return KubeSpec(
            name, image,
            replicas=self.num_replicas or 1,
            autoscale=bool(autoscale),
            min_replicas=self.autoscale_min_replicas if autoscale else None,
            max_replicas=self.autoscale_max_replicas if autoscale else None,
            target_cpu_utilization=self.autoscale_target_utilization or 70,
            cpu_request=_millicores(cpu),
            cpu_limit=_millicores(self.cpu_cores_limit if self.cpu_cores_limit is not None else cpu),
            memory_request=_mebibytes(memory),
            memory_limit=_mebibytes(self.memory_gb_limit if self.memory_gb_limit is not None else memory),
            auth_enabled=self.auth_enabled is not False,
            environment={"SCORING_TIMEOUT_MS": str(self.scoring_timeout_ms)} if self.scoring_timeout_ms else {},
            namespace=self.namespace,
        )


def _millicores(cores: float) -> str:
    return f"{max(1, round(cores * 1000))}m"


def _mebibytes(gigabytes: float) -> str:
    return f"{max(1, round(gigabytes * 1024))}Mi"

