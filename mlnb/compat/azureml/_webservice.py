"""Azure's service handles: ``Webservice``, ``LocalWebservice``, ``AciWebservice``, ``AksWebservice``.

Each wraps mlnb's :class:`mlnb.Webservice` (``service.mlnb``) and keeps Azure's names,
signatures and printed forms. ``Webservice(ws, name)`` returns the class the service was
deployed as (``Model.deploy`` with a ``LocalWebservice`` configuration gives a
``LocalWebservice``; an ``AciWebservice`` one, or none, an ``AciWebservice``); a service
deployed by mlnb itself comes back as a ``LocalWebservice``.

States: a ``LocalWebservice`` reports Azure's local states (``deploying``, ``running``,
``failed``, ``deleted``, ``unknown``); an ``AciWebservice`` Azure's cloud ones
(``Transitioning``, ``Healthy``, ``Unhealthy``, ``Failed``), which are mlnb's own.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from mlnb.compat.azureml._cloud import AzureCloudOnly, refuse
from mlnb.compat.azureml._configs import (
    AciServiceDeploymentConfiguration,
    AksServiceDeploymentConfiguration,
    LocalWebserviceDeploymentConfiguration,
    WebserviceDeploymentConfiguration,
)
from mlnb.compat.azureml._inference import InferenceConfig
from mlnb.compat.azureml._notes import note_unused
from mlnb.compat.azureml._protocol import AzureWorkspace, local_workspace
from mlnb.compat.azureml._store import Store
from mlnb.config import DeploymentConfiguration
from mlnb.config import InferenceConfig as LocalInferenceConfig
from mlnb.deploy import Webservice as LocalService
from mlnb.errors import DockerUnavailable, InvalidConfiguration, ServiceExists, ServiceNotFound
from mlnb.image import connect
from mlnb.registry import Model as LocalModel

__all__ = [
    "AciWebservice",
    "AksWebservice",
    "LocalWebservice",
    "Webservice",
    "aks_not_local",
    "plan",
    "record_service",
    "swarm_active",
]

_KIND = "services"
_LOCAL, _ACI, _AKS = "Local", "ACI", "AKS"
_LOCAL_STATES = {"Transitioning": "deploying", "Healthy": "running", "Unhealthy": "running", "Failed": "failed",
                 "Deleted": "deleted", "Unknown": "unknown"}


def plan(inference_config: InferenceConfig | None, deployment_config: WebserviceDeploymentConfiguration,
         ) -> tuple[LocalInferenceConfig | None, DeploymentConfiguration]:
    """mlnb's inference and deployment configurations for Azure's pair.

    Raises:
        InvalidConfiguration: for a configuration mlnb cannot deploy here.
        AzureCloudOnly: for an AKS configuration on an engine that is no swarm manager (see :func:`aks_not_local`).
    """
    if isinstance(deployment_config, AksServiceDeploymentConfiguration) and not swarm_active():
        aks_not_local()
    if not isinstance(deployment_config, (LocalWebserviceDeploymentConfiguration, AciServiceDeploymentConfiguration,
                                          AksServiceDeploymentConfiguration)):
        raise InvalidConfiguration("deployment_config must come from LocalWebservice.deploy_configuration(...), "
                                   "AciWebservice.deploy_configuration(...) or AksWebservice.deploy_configuration(...)")
    if inference_config is not None and not isinstance(inference_config, InferenceConfig):
        raise InvalidConfiguration("inference_config must be an azureml InferenceConfig(entry_script=..., ...)")
    local_ic = inference_config._to_mlnb() if inference_config is not None else None
    local_dc = deployment_config._to_mlnb(
        base_image=inference_config._base_image() if inference_config is not None else None,
        environment_variables=inference_config._environment_variables() if inference_config is not None else {},
    )
    return local_ic, local_dc


def swarm_active() -> bool:
    """Whether the Docker engine answers and is a Swarm manager (where an AKS configuration deploys)."""
    try:
        swarm = connect().info().get("Swarm", {})
    except DockerUnavailable:
        return False
    return bool(swarm.get("LocalNodeState") == "active" and swarm.get("ControlAvailable"))


def aks_not_local() -> None:
    """Raise the one line that says where AKS deployments go locally.

    Raises:
        AzureCloudOnly: always.
    """
    raise AzureCloudOnly(
        "AKS deployments run on mlnb's Docker Swarm backend, and this Docker engine is no swarm manager: run "
        "`docker swarm init --advertise-addr 127.0.0.1` and deploy again; for Kubernetes write manifests with "
        "deployment_config.to_kube_spec(name, image) and mlnb.kube.write_manifests (docs/kubernetes.md)"
    )


def record_service(workspace: AzureWorkspace, name: str, config: WebserviceDeploymentConfiguration) -> None:
    """Remember which Azure class a service was deployed as, with its limits, tags, properties and description."""
    limits = ({"cpu_cores": config.cpu_cores, "memory_gb": config.memory_gb, "backend": config.backend}
              if isinstance(config, AciServiceDeploymentConfiguration) else {})
    Store(local_workspace(workspace)).write({
        "computeType": _AKS if isinstance(config, AksServiceDeploymentConfiguration) else _ACI if limits else _LOCAL,
        "limits": limits,
        "tags": dict(getattr(config, "tags", None) or {}), "properties": dict(getattr(config, "properties", None) or {}),
        "description": getattr(config, "description", None),
        "createdTime": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }, _KIND, name)


class Webservice:
    """A deployed service, as Azure's base class: ``Webservice(ws, name)`` returns its own class.

    Args:
        workspace: the workspace it was deployed from.
        name: the service name.

    Raises:
        ServiceNotFound: when no service of that name is deployed.
    """

    _compute_type = _LOCAL
    workspace: AzureWorkspace
    name: str

    def __new__(cls, workspace: AzureWorkspace, name: str, *args: Any, **kwargs: Any) -> Webservice:
        if cls is Webservice:
            recorded = _record(workspace, name)
            kinds: dict[str, type[Webservice]] = {_ACI: AciWebservice, _AKS: AksWebservice}
            cls = kinds.get(recorded.get("computeType", _LOCAL) if recorded is not None else _LOCAL, LocalWebservice)
        return super().__new__(cls)

    def __init__(self, workspace: AzureWorkspace, name: str) -> None:
        self._bind(workspace, name, must_exist=True)

    def _bind(self, workspace: AzureWorkspace, name: str, *, must_exist: bool) -> None:
        self.workspace = workspace
        self.name = name
        try:
            self._service: LocalService | None = LocalService(local_workspace(workspace), name)
        except ServiceNotFound:
            if must_exist:
                raise
            self._service = None
        self._deleted = False

    @classmethod
    def _handle(cls, workspace: AzureWorkspace, name: str) -> Webservice:
        handle = cls.__new__(cls, workspace, name)
        handle._bind(workspace, name, must_exist=True)
        return handle

    # -- what it is ----------------------------------------------------------------------

    @property
    def mlnb(self) -> LocalService:
        """The mlnb service behind this handle (logs, profiling, HTML view).

        Raises:
            ServiceNotFound: when the service is not deployed (any more).
        """
        if self._service is None or self._deleted:
            raise ServiceNotFound(f"service {self.name!r} is not deployed; deploy it with Model.deploy(ws, {self.name!r}, ...)")
        return self._service

    @property
    def compute_type(self) -> str:
        """``"Local"`` or ``"ACI"``."""
        return self._compute_type

    @property
    def state(self) -> str:
        """``Transitioning``, ``Healthy``, ``Unhealthy``, ``Failed`` or ``Deleted``."""
        if self._deleted:
            return "Deleted"
        if self._service is None:
            return "Unknown"
        return self._service.state

    @property
    def scoring_uri(self) -> str | None:
        """The URI to POST scoring requests to."""
        return self._service.scoring_uri if self._service is not None and not self._deleted else None

    @property
    def swagger_uri(self) -> str | None:
        """The URI of the service's swagger document."""
        return self._service.swagger_uri if self._service is not None and not self._deleted else None

    @property
    def auth_enabled(self) -> bool:
        """Whether ``/score`` requires a key."""
        return self._service.auth_enabled if self._service is not None and not self._deleted else False

    @property
    def token_auth_enabled(self) -> bool:
        """Always False: Azure AD tokens do not exist locally (keys do)."""
        return False

    @property
    def error(self) -> str | None:
        """Why the service failed, when it did."""
        return self._service.error if self._service is not None and not self._deleted else None

    @property
    def tags(self) -> dict[str, str] | None:
        """The service's tags (``None`` when it has none)."""
        return (_record(self.workspace, self.name) or {}).get("tags") or None

    @property
    def properties(self) -> dict[str, str] | None:
        """The service's properties (``None`` when it has none)."""
        return (_record(self.workspace, self.name) or {}).get("properties") or None

    @property
    def description(self) -> str | None:
        """The service's description."""
        return (_record(self.workspace, self.name) or {}).get("description")

    @property
    def created_time(self) -> _dt.datetime | None:
        """When the service was deployed through this layer."""
        created = (_record(self.workspace, self.name) or {}).get("createdTime")
        return _dt.datetime.fromisoformat(created) if created else None

    @property
    def image_id(self) -> None:
        """Always ``None``: Azure's image ids do not exist locally."""
        return None

    # -- lifecycle -----------------------------------------------------------------------

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait until the service is Healthy, printing its build and server logs with ``show_output``.

        Raises:
            DeploymentFailed: when it failed; it carries the logs and the ``init()`` traceback.
            DeploymentTimeout: when it was not ready within ``timeout_sec`` (default 600 s).
        """
        self.mlnb.wait_for_deployment(show_output=show_output, timeout_sec=600 if timeout_sec is None else timeout_sec)
        if show_output:
            print(f"{self.compute_type} service creation operation finished, operation \"Succeeded\"")

    def run(self, input: Any) -> Any:  # noqa: A002 - Azure's parameter name
        """Score ``input`` (a JSON string, or data mlnb encodes) and return the parsed answer.

        Raises:
            ScoringError: when the service answers with a status other than 200.
        """
        return self.mlnb.run(input)

    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The last ``num_lines`` lines of the build and server log (``init()`` output included)."""
        note_unused("get_logs", {"init": init or None}, "the init() output is part of the one service log")
        return self.mlnb.get_logs(tail=num_lines)

    def delete(self) -> None:
        """Stop and remove the service; calling it again does nothing."""
        if self._service is not None and not self._deleted:
            self._service.delete()
        Store(local_workspace(self.workspace)).remove(_KIND, self.name)
        self._deleted = True

    def update(self, *args: Any) -> None:
        """Azure's base class has no update; the service's own class does.

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError("call update() on the service's own class (Webservice(ws, name) returns it)")

    # -- keys ----------------------------------------------------------------------------

    def get_keys(self) -> tuple[str, str]:
        """The primary and secondary keys.

        Raises:
            InvalidConfiguration: when the service was deployed without auth.
        """
        return self.mlnb.get_keys()

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Replace the ``"Primary"`` or ``"Secondary"`` key with a new random one (the service restarts).

        Raises:
            InvalidConfiguration: for ``set_key`` (mlnb makes keys itself), another key name, or no auth.
        """
        if set_key is not None:
            raise InvalidConfiguration("set_key is not supported: mlnb generates keys; call regen_key(key) and read get_keys()")
        self.mlnb.regen_key(key)

    def get_token(self) -> Any:
        """Cloud only: Azure AD tokens; local services use keys."""
        refuse("Webservice.get_token()", "deploy with auth_enabled=True and send service.get_keys()[0] as the Bearer token")

    # -- metadata ------------------------------------------------------------------------

    def add_tags(self, tags: dict[str, str]) -> None:
        """Add or change tags."""
        self._update_record(tags={**(self.tags or {}), **{str(k): str(v) for k, v in tags.items()}})

    def remove_tags(self, tags: Sequence[str]) -> None:
        """Remove the tags with these keys."""
        self._update_record(tags={k: v for k, v in (self.tags or {}).items() if k not in set(tags)})

    def add_properties(self, properties: dict[str, str]) -> None:
        """Add properties (an existing one cannot change).

        Raises:
            InvalidConfiguration: when a key exists with another value.
        """
        current = self.properties or {}
        for key, value in properties.items():
            if key in current and current[key] != str(value):
                raise InvalidConfiguration(f"property {key!r} is already {current[key]!r}; properties cannot change, use a tag")
        self._update_record(properties={**current, **{str(k): str(v) for k, v in properties.items()}})

    def _update_record(self, **changes: Any) -> None:
        self.mlnb  # noqa: B018 - fails now when the service is gone
        store = Store(local_workspace(self.workspace))
        record = store.read(_KIND, self.name) or {"computeType": self._compute_type}
        store.write({**record, **changes}, _KIND, self.name)

    def serialize(self) -> dict[str, Any]:
        """The service's details, with Azure's key names."""
        created = self.created_time
        return {"name": self.name, "tags": self.tags, "properties": self.properties, "state": self.state,
                "createdTime": created.isoformat() if created else None, "error": self.error,
                "computeType": self.compute_type, "workspaceName": self.workspace.name, "imageId": None,
                "scoringUri": self.scoring_uri, "swaggerUri": self.swagger_uri, "description": self.description}

    # -- finding services ----------------------------------------------------------------

    @staticmethod
    def list(workspace: AzureWorkspace, compute_type: str | None = None, image_name: str | None = None,
             image_id: str | None = None, model_name: str | None = None, model_id: str | None = None,
             tags: Sequence[str | Sequence[str]] | None = None, properties: Sequence[str | Sequence[str]] | None = None,
             image_digest: str | None = None) -> list[Webservice]:
        """The deployed services, filtered as Azure filters them.

        Args:
            workspace: the workspace.
            compute_type: ``"Local"`` or ``"ACI"``.
            image_name, image_id, image_digest: Azure images do not exist locally; a value matches nothing.
            model_name: services serving a model of this name.
            model_id: services serving this ``name:version``.
            tags: keep services with each tag (a key, or ``[key, value]``).
            properties: the same, over properties.
        """
        if image_name is not None or image_id is not None or image_digest is not None:
            return []
        services = [Webservice._handle(workspace, service.name) for service in LocalService.list(local_workspace(workspace))]
        return [s for s in services if (compute_type is None or s.compute_type.lower() == compute_type.lower())
                and (model_name is None or any(m.split(":")[0] == model_name for m in s.mlnb.models))
                and (model_id is None or model_id in s.mlnb.models)
                and _has(s.tags or {}, tags) and _has(s.properties or {}, properties)]

    @staticmethod
    def check_for_existing_webservice(workspace: AzureWorkspace, name: str, overwrite: bool = False,
                                      request_func: Any = None, check_func: Any = None) -> None:
        """Raise when a service called ``name`` is deployed and ``overwrite`` is false.

        Raises:
            ServiceExists: as above.
        """
        if not overwrite and any(s.name == name for s in LocalService.list(local_workspace(workspace))):
            raise ServiceExists(f"a service named {name!r} is already deployed; pass overwrite=True or choose another name")

    @classmethod
    def deserialize(cls, workspace: AzureWorkspace, webservice_payload: dict[str, Any]) -> Webservice:
        """The handle of the service :meth:`serialize` described."""
        return Webservice(workspace, webservice_payload["name"])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(workspace={self.workspace!r}, name={self.name}, image_id=None, image_digest=None, "
                f"compute_type={self.compute_type}, state={self.state}, scoring_uri={self.scoring_uri}, tags={self.tags}, "
                f"properties={self.properties}, created_by=None)")


class LocalWebservice(Webservice):
    """A local service, as Azure's ``LocalWebservice`` (which was a Docker container on the notebook's machine).

    Args:
        workspace: the workspace.
        name: the service name.
        must_exist: raise when it is not deployed; with False the handle reports ``unknown``.
    """

    STATE_DELETED = "deleted"
    STATE_DEPLOYING = "deploying"
    STATE_FAILED = "failed"
    STATE_RUNNING = "running"
    STATE_UNKNOWN = "unknown"

    _compute_type = _LOCAL

    def __init__(self, workspace: AzureWorkspace, name: str, must_exist: bool = True) -> None:
        self._bind(workspace, name, must_exist=must_exist)

    @staticmethod
    def deploy_configuration(port: int | None = None, *, backend: str | None = None) -> LocalWebserviceDeploymentConfiguration:
        """A local deployment on ``127.0.0.1:port`` (a free port when ``None``).

        Args:
            port: the host port.
            backend: mlnb's backend: ``"docker"``, ``"process"`` or ``"auto"`` (default:
                ``$MLNB_AZUREML_BACKEND``, else ``"auto"``).
        """
        return LocalWebserviceDeploymentConfiguration(port, backend=backend)

    @property
    def state(self) -> str:
        """Azure's local states: ``deploying``, ``running``, ``failed``, ``deleted`` or ``unknown``."""
        return _LOCAL_STATES.get(super().state, self.STATE_UNKNOWN)

    @property
    def port(self) -> int | None:
        """The host port on 127.0.0.1."""
        return self._service.port if self._service is not None and not self._deleted else None

    def wait_for_deployment(self, show_output: bool = False) -> None:  # type: ignore[override]
        """Wait until the service answers, printing its logs with ``show_output``; then say where it runs.

        Raises:
            DeploymentFailed: when it failed; it carries the logs and the ``init()`` traceback.
        """
        self.mlnb.wait_for_deployment(show_output=show_output)
        print(f"Local webservice is running at http://127.0.0.1:{self.port}")

    def run(self, input_data: Any) -> Any:
        """Score ``input_data``, first waiting for a deployment or reload in progress (as Azure does).

        Raises:
            InvalidConfiguration: when the service is not running.
            ScoringError: when it answers with a status other than 200.
        """
        state = self.state
        if state == self.STATE_DEPLOYING:
            self.wait_for_deployment()
        elif state != self.STATE_RUNNING:
            raise InvalidConfiguration(f"cannot call run() when service {self.name!r} is {state}; see service.get_logs()")
        return self.mlnb.run(input_data)

    def get_logs(self, num_lines: int = 5000, raw: bool = False) -> str:
        """The last ``num_lines`` lines of the build and server log."""
        return self.mlnb.get_logs(tail=num_lines)

    def reload(self, wait: bool = False) -> None:
        """Copy the entry script and source folder again and restart the server, without a rebuild.

        Args:
            wait: wait until it answers again (``run()`` waits anyway).
        """
        self.mlnb.reload()
        if wait:
            self.wait_for_deployment()

    def update(self, models: Sequence[Any] | None = None, image_config: Any = None,
               deployment_config: LocalWebserviceDeploymentConfiguration | None = None, wait: bool = False,
               inference_config: InferenceConfig | None = None) -> None:
        """Redeploy with new models, inference or deployment configuration (what is ``None`` stays).

        Raises:
            InvalidConfiguration: for ``image_config`` (Azure's retired image API) or a configuration of another kind.
        """
        if image_config is not None:
            raise InvalidConfiguration("image_config is Azure's retired image API; pass inference_config=InferenceConfig(...)")
        _update(self, models, inference_config, deployment_config)
        if wait:
            self.wait_for_deployment()

    def delete(self, delete_cache: bool = True, delete_image: bool = False, delete_volume: bool = True) -> None:
        """Stop and remove the service and its files (mlnb keeps no cache or volume to spare)."""
        note_unused("LocalWebservice.delete", {"delete_cache": None if delete_cache else False,
                                               "delete_image": delete_image or None,
                                               "delete_volume": None if delete_volume else False},
                    "mlnb removes the service's files and leaves its image to `docker image prune`")
        super().delete()

    def deploy_to_cloud(self, name: str | None = None, deployment_config: Any = None, deployment_target: Any = None) -> Any:
        """Cloud only: Azure redeploys the local service in the cloud."""
        refuse("LocalWebservice.deploy_to_cloud()", "Model.package(...) builds an image that runs anywhere Docker does")

    @staticmethod
    def list(workspace: AzureWorkspace, model_name: str | None = None, model_id: str | None = None,  # type: ignore[override]
             all: bool | None = None) -> list[Webservice]:  # noqa: A002 - Azure's parameter name
        """The local services (``all`` includes those that failed)."""
        services = Webservice.list(workspace, compute_type=_LOCAL, model_name=model_name, model_id=model_id)
        return [s for s in services if all or s.state != LocalWebservice.STATE_FAILED]

    def serialize(self) -> dict[str, Any]:
        """The service's details, with Azure's key names."""
        return {**super().serialize(), "port": self.port}


class AciWebservice(Webservice):
    """A service deployed with ``AciWebservice.deploy_configuration``: locally, one service with limits."""

    _compute_type = _ACI

    @staticmethod
    def deploy_configuration(cpu_cores: float | None = None, memory_gb: float | None = None,
                             tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
                             description: str | None = None, location: str | None = None,
                             auth_enabled: bool | None = None, ssl_enabled: bool | None = None,
                             enable_app_insights: bool | None = None, ssl_cert_pem_file: str | None = None,
                             ssl_key_pem_file: str | None = None, ssl_cname: str | None = None,
                             dns_name_label: str | None = None, primary_key: str | None = None,
                             secondary_key: str | None = None, collect_model_data: bool | None = None,
                             cmk_vault_base_url: str | None = None, cmk_key_name: str | None = None,
                             cmk_key_version: str | None = None, vnet_name: str | None = None,
                             subnet_name: str | None = None, *, backend: str | None = None,
                             ) -> AciServiceDeploymentConfiguration:
        """One local service with CPU and memory limits and optional key auth (see :class:`AciServiceDeploymentConfiguration`)."""
        return AciServiceDeploymentConfiguration(
            cpu_cores, memory_gb, tags, properties, description, location, auth_enabled, ssl_enabled, enable_app_insights,
            ssl_cert_pem_file, ssl_key_pem_file, ssl_cname, dns_name_label, primary_key, secondary_key, collect_model_data,
            cmk_vault_base_url, cmk_key_name, cmk_key_version, vnet_name, subnet_name, backend=backend)

    def run(self, input_data: Any) -> Any:
        """Score ``input_data`` and return the parsed answer.

        Raises:
            ScoringError: when the service answers with a status other than 200.
        """
        return self.mlnb.run(input_data)

    def update(self, image: Any = None, tags: dict[str, str] | None = None,
               properties: dict[str, str] | None = None, description: str | None = None, auth_enabled: bool | None = None,
               ssl_enabled: bool | None = None, ssl_cert_pem_file: str | None = None, ssl_key_pem_file: str | None = None,
               ssl_cname: str | None = None, enable_app_insights: bool | None = None, models: Sequence[Any] | None = None,
               inference_config: InferenceConfig | None = None) -> None:
        """Redeploy with new models or inference configuration, or change auth, tags, properties, description.

        Raises:
            InvalidConfiguration: for ``image`` (Azure's retired image API).
        """
        if image is not None:
            raise InvalidConfiguration("image is Azure's retired image API; pass inference_config=InferenceConfig(...)")
        note_unused("AciWebservice.update", {"ssl_enabled": ssl_enabled, "ssl_cert_pem_file": ssl_cert_pem_file,
                                             "ssl_key_pem_file": ssl_key_pem_file, "ssl_cname": ssl_cname,
                                             "enable_app_insights": enable_app_insights},
                    "a local container has no Azure TLS or monitoring")
        changes: dict[str, Any] = {}
        if tags is not None:
            changes["tags"] = dict(tags)
        if properties is not None:
            changes["properties"] = {**(self.properties or {}), **properties}
        if description is not None:
            changes["description"] = description
        if changes:
            self._update_record(**changes)
        config = None
        if auth_enabled is not None:
            limits = (_record(self.workspace, self.name) or {}).get("limits") or {}
            config = AciServiceDeploymentConfiguration(limits.get("cpu_cores"), limits.get("memory_gb"),
                                                       auth_enabled=auth_enabled, backend=limits.get("backend"))
        if models is not None or inference_config is not None or config is not None:
            _update(self, models, inference_config, config)


class AksWebservice(Webservice):
    """A service deployed with ``AksWebservice.deploy_configuration``: locally, a Docker Swarm service.

    ``num_replicas`` (else ``autoscale_min_replicas``) replicas with the CPU and memory
    limits; nothing autoscales locally. On an engine that is no swarm manager,
    ``Model.deploy`` refuses in one line (see :func:`aks_not_local`).
    """

    _compute_type = _AKS

    @staticmethod
    def deploy_configuration(autoscale_enabled: bool | None = None, autoscale_min_replicas: int | None = None,
                             autoscale_max_replicas: int | None = None, autoscale_refresh_seconds: int | None = None,
                             autoscale_target_utilization: int | None = None, collect_model_data: bool | None = None,
                             auth_enabled: bool | None = None, cpu_cores: float | None = None,
                             memory_gb: float | None = None, enable_app_insights: bool | None = None,
                             scoring_timeout_ms: int | None = None, replica_max_concurrent_requests: int | None = None,
                             max_request_wait_time: int | None = None, num_replicas: int | None = None,
                             primary_key: str | None = None, secondary_key: str | None = None,
                             tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
                             description: str | None = None, gpu_cores: int | None = None,
                             period_seconds: int | None = None, initial_delay_seconds: int | None = None,
                             timeout_seconds: int | None = None, success_threshold: int | None = None,
                             failure_threshold: int | None = None, namespace: str | None = None,
                             token_auth_enabled: bool | None = None, compute_target_name: str | None = None,
                             cpu_cores_limit: float | None = None, memory_gb_limit: float | None = None,
                             blobfuse_enabled: bool | None = None) -> AksServiceDeploymentConfiguration:
        """Azure's AKS settings, kept whole; ``to_kube_spec(name, image)`` maps them onto Kubernetes manifests."""
        return AksServiceDeploymentConfiguration(
            autoscale_enabled, autoscale_min_replicas, autoscale_max_replicas, autoscale_refresh_seconds,
            autoscale_target_utilization, collect_model_data, auth_enabled, cpu_cores, memory_gb, enable_app_insights,
            scoring_timeout_ms, replica_max_concurrent_requests, max_request_wait_time, num_replicas, primary_key,
            secondary_key, tags, properties, description, gpu_cores, period_seconds, initial_delay_seconds, timeout_seconds,
            success_threshold, failure_threshold, namespace, token_auth_enabled, compute_target_name, cpu_cores_limit,
            memory_gb_limit, blobfuse_enabled)

    def run(self, input_data: Any) -> Any:
        """Score ``input_data`` and return the parsed answer.

        Raises:
            ScoringError: when the service answers with a status other than 200.
        """
        return self.mlnb.run(input_data)

    def get_access_token(self) -> Any:
        """Refused: Azure AD tokens do not exist locally; the service uses keys (``get_keys()``)."""
        refuse("get_access_token (Azure AD token auth)", "the service uses keys: service.get_keys()")

    def update(self, image: Any = None, autoscale_enabled: bool | None = None,  # type: ignore[override]
               autoscale_min_replicas: int | None = None, autoscale_max_replicas: int | None = None,
               autoscale_refresh_seconds: int | None = None, autoscale_target_utilization: int | None = None,
               collect_model_data: bool | None = None, auth_enabled: bool | None = None, cpu_cores: float | None = None,
               memory_gb: float | None = None, enable_app_insights: bool | None = None,
               scoring_timeout_ms: int | None = None, replica_max_concurrent_requests: int | None = None,
               max_request_wait_time: int | None = None, num_replicas: int | None = None,
               tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
               description: str | None = None, models: Sequence[Any] | None = None,
               inference_config: InferenceConfig | None = None, gpu_cores: int | None = None,
               period_seconds: int | None = None, initial_delay_seconds: int | None = None,
               timeout_seconds: int | None = None, success_threshold: int | None = None,
               failure_threshold: int | None = None, namespace: str | None = None,
               token_auth_enabled: bool | None = None, cpu_cores_limit: float | None = None,
               memory_gb_limit: float | None = None, **kwargs: Any) -> None:
        """Redeploy with new models or inference configuration (a rolling Swarm update), change
        the replicas (``num_replicas`` or ``autoscale_min_replicas``: ``scale``), or tags,
        properties and description; one note names the other settings given.

        Raises:
            InvalidConfiguration: for ``image`` (Azure's retired image API).
        """
        if image is not None:
            raise InvalidConfiguration("image is Azure's retired image API; pass inference_config=InferenceConfig(...)")
        note_unused("AksWebservice.update", {
            "autoscale_enabled": autoscale_enabled, "autoscale_max_replicas": autoscale_max_replicas,
            "autoscale_refresh_seconds": autoscale_refresh_seconds, "autoscale_target_utilization": autoscale_target_utilization,
            "collect_model_data": collect_model_data, "auth_enabled": auth_enabled, "cpu_cores": cpu_cores,
            "memory_gb": memory_gb, "enable_app_insights": enable_app_insights, "scoring_timeout_ms": scoring_timeout_ms,
            "replica_max_concurrent_requests": replica_max_concurrent_requests, "max_request_wait_time": max_request_wait_time,
            "gpu_cores": gpu_cores, "period_seconds": period_seconds, "initial_delay_seconds": initial_delay_seconds,
            "timeout_seconds": timeout_seconds, "success_threshold": success_threshold, "failure_threshold": failure_threshold,
            "namespace": namespace, "token_auth_enabled": token_auth_enabled, "cpu_cores_limit": cpu_cores_limit,
            "memory_gb_limit": memory_gb_limit, **kwargs,
        }, "nothing autoscales locally, and a running Swarm service changes its limits and auth by a new deployment")
        changes: dict[str, Any] = {}
        if tags is not None:
            changes["tags"] = dict(tags)
        if properties is not None:
            changes["properties"] = {**(self.properties or {}), **properties}
        if description is not None:
            changes["description"] = description
        if changes:
            self._update_record(**changes)
        if models is not None or inference_config is not None:
            _update(self, models, inference_config, None)
        replicas = num_replicas or autoscale_min_replicas
        if replicas is not None:
            self.mlnb.scale(replicas)


def _update(handle: Webservice, models: Sequence[Any] | None, inference_config: InferenceConfig | None,
            deployment_config: WebserviceDeploymentConfiguration | None) -> None:
    kind = AciServiceDeploymentConfiguration if isinstance(handle, AciWebservice) else LocalWebserviceDeploymentConfiguration
    if deployment_config is not None and not isinstance(deployment_config, kind):
        raise InvalidConfiguration(f"a {type(handle).__name__} takes a {kind.__name__} (from its deploy_configuration)")
    local_ic = inference_config._to_mlnb() if inference_config is not None else None
    local_dc = None
    if deployment_config is not None:
        _, local_dc = plan(inference_config, deployment_config)
    local_models = [m if isinstance(m, (str, LocalModel)) else m.mlnb for m in models] if models is not None else None
    handle.mlnb.update(models=local_models, inference_config=local_ic, deployment_config=local_dc)


def _record(workspace: AzureWorkspace, name: str) -> dict[str, Any] | None:
    try:
        return Store(local_workspace(workspace)).read(_KIND, name)
    except InvalidConfiguration:  # not a name a service can have: no record
        return None


def _has(values: dict[str, str], wanted: Sequence[str | Sequence[str]] | None) -> bool:
    for item in wanted or ():
        key, value = (item, None) if isinstance(item, str) else (item[0], item[1] if len(item) > 1 else None)
        if key not in values or (value is not None and values[key] != value):
            return False
    return True

