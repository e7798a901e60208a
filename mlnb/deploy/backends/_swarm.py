"""The Swarm backend: the image the Docker backend builds, run as a Docker Swarm service.

- N replicas (``replicas=``), each a task with the container limits ``cpu_cores`` /
  ``memory_gb`` and a health check on the readiness route, so a task counts as running
  only once ``init()`` has succeeded.
- Rolling updates start the new task first, watch it for :data:`MONITOR_S`, and roll
  back by themselves when it fails (``failure_action="rollback"``): the old version keeps
  serving, and the deployment reports the failure.
- Keys are a Swarm secret, mounted read-only as the server's keys file.
- The service joins an attachable overlay network. ``endpoint_mode="vip"`` publishes the
  port through Swarm's routing mesh, which listens on every interface of every node;
  ``"dnsrr"`` publishes nothing, and clients on the network reach ``tasks.<service>``.
- The service and its tasks carry the Docker backend's labels (workspace, service), so a
  new kernel finds them; state comes from the tasks; logs come from every task, each
  line tagged with its task.

mlnb joins no swarm on its own: the engine must be a manager already, or the deployment
configuration says ``init_swarm=True`` (a single-node swarm advertising 127.0.0.1).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.models.services import Service
from docker.types import (
    EndpointSpec,
    Healthcheck,
    NetworkAttachmentConfig,
    Resources,
    RestartPolicy,
    RollbackConfig,
    SecretReference,
    ServiceMode,
    UpdateConfig,
)

from mlnb.deploy._records import ServiceRecord
from mlnb.deploy.backends._base import Deployment, RuntimeStatus
from mlnb.deploy.backends._sampling import Sampler
from mlnb.errors import DeploymentFailed, InvalidConfiguration, MlnbError, NotInSwarm, ProfileFailed
from mlnb.image import CONTAINER_PORT, assemble_context, build_or_reuse, connect, push_image

__all__ = ["DEFAULT_NETWORK", "KEYS_FILE", "MONITOR_S", "SwarmBackend", "ensure_swarm"]

DEFAULT_NETWORK = "mlnb"
"""The overlay network a Swarm service joins unless ``network=`` names another."""
KEYS_FILE = "/run/secrets/mlnb-keys"
"""Where a task finds its keys (the server's ``--auth-keys-file``)."""
MONITOR_S = 5
"""How long Swarm watches a new task after it turned healthy before the update goes on."""

_NS = 1_000_000_000
_HEALTH_INTERVAL_S = 2
# A busy replica answers /ready late, not never: only 5 misses of 5 s each mark it unhealthy.
_HEALTH_TIMEOUT_S = 5
_HEALTH_RETRIES = 5
_HEALTH_START_PERIOD_S = 300
_RESTART_ATTEMPTS = 3
_STOP_GRACE_S = 15
_FAILURE_MARKER = "build.failed"
_GENERATION = "mlnb.generation"
_PENDING = frozenset({"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting"})
_ROLLED_BACK = frozenset({"rollback_started", "rollback_paused", "rollback_completed", "paused"})
_CANCEL_WAIT_SECONDS = 60.0
_REMOVE_WAIT_SECONDS = 60.0
_SWITCH_POLL_S = 0.5


def ensure_swarm(client: docker.DockerClient, *, init: bool, log: Any = print) -> None:
    """Make sure the engine is a Swarm manager, initialising a single-node swarm only when asked.

    Args:
        client: the engine.
        init: run ``docker swarm init --advertise-addr 127.0.0.1`` when the engine is in no swarm.
        log: receives a line when a swarm is initialised.

    Raises:
        NotInSwarm: when the engine is in no swarm and ``init`` is false, or is a worker node.
    """
    swarm = client.info().get("Swarm", {})
    state = swarm.get("LocalNodeState")
    if state == "active":
        if not swarm.get("ControlAvailable"):
            raise NotInSwarm("this engine is a Swarm worker, not a manager: deploy from a manager node")
        return
    if not init:
        raise NotInSwarm(
            "this engine is not in a swarm: run `docker swarm init --advertise-addr 127.0.0.1` or pass init_swarm=True"
        )
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    log("[mlnb] initialised a single-node swarm (advertising 127.0.0.1); `docker swarm leave --force` undoes it")


class SwarmBackend:
    """Runs services as Docker Swarm services.

    Raises:
        DockerUnavailable: when no Docker engine answers.
    """

    name = "swarm"

    def __init__(self) -> None:
        self.client = connect()
        self._builds: dict[str, threading.Thread] = {}
        self._cancels: dict[str, threading.Event] = {}

    # -- starting ----------------------------------------------------------------------

    def start(self, deployment: Deployment) -> dict[str, Any]:
        """Build the image and create the service (or roll the existing one over), in the background."""
        config = deployment.config
        ensure_swarm(self.client, init=config.init_swarm, log=deployment.log)
        workspace_id = hashlib.sha256(deployment.labels["mlnb.workspace"].encode()).hexdigest()[:8]
        runtime: dict[str, Any] = {
            "service": f"mlnb-{workspace_id}-{deployment.name}",
            "image": f"mlnb/{deployment.name}:{workspace_id}",
            "generation": uuid.uuid4().hex[:12],
            "workspace": deployment.labels["mlnb.workspace"],
            "network": config.network or DEFAULT_NETWORK,
            "endpoint_mode": config.endpoint_mode,
            "log": str(deployment.log_path),
            "memory_gb": config.memory_gb,
        }
        if config.endpoint_mode == "dnsrr":
            runtime["internal_uri"] = f"http://tasks.{runtime['service']}:{CONTAINER_PORT}/score"
        (deployment.folder / _FAILURE_MARKER).unlink(missing_ok=True)
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._build_and_run, args=(deployment, runtime, cancel), name=f"mlnb-swarm-{deployment.name}", daemon=True
        )
        self._builds[runtime["service"]] = thread
        self._cancels[runtime["service"]] = cancel
        thread.start()
        return runtime

    def _build_and_run(self, deployment: Deployment, runtime: dict[str, Any], cancel: threading.Event) -> None:
        try:
            context = assemble_context(
                deployment.models,
                deployment.inference_config,
                target_dir=deployment.folder / "context",
                wheelhouse_cache=deployment.wheelhouse_cache,
                base_image=deployment.config.base_image,
                log=deployment.log,
                requirements=deployment.requirements,
            )
            image = build_or_reuse(self.client, context, runtime["image"], labels=deployment.labels, log=deployment.log, cancel=cancel)
            if cancel.is_set():
                deployment.log("[mlnb] deployment cancelled")
                return
            if deployment.config.registry is not None:
                image = push_image(image, deployment.config.registry, client=self.client, log=deployment.log).pinned
            self._run(deployment, runtime, image)
        except Exception as error:  # the thread's only way to report is the marker and the log
            message = str(error) if isinstance(error, MlnbError) else f"{type(error).__name__}: {error}"
            deployment.log(f"[mlnb] error: {message}")
            (deployment.folder / _FAILURE_MARKER).write_text(message)

    def _run(self, deployment: Deployment, runtime: dict[str, Any], image: str) -> None:
        config = deployment.config
        self._ensure_network(runtime["network"])
        labels = {**deployment.labels, "mlnb.backend": self.name}
        command = ["python", "-m", "mlnb.serving", "--host", "0.0.0.0", "--port", str(CONTAINER_PORT)]
        if config.workers is not None:
            command += ["--workers", str(config.workers)]
        secrets = []
        if deployment.keys is not None:
            secrets.append(self._keys_secret(runtime["service"], deployment.keys, labels))
            command += ["--auth-keys-file", KEYS_FILE]
        ports = {deployment.port: CONTAINER_PORT} if config.endpoint_mode == "vip" else None
        options: dict[str, Any] = {
            "image": image,
            "command": command,
            "name": runtime["service"],
            "labels": labels,
            "container_labels": {**labels, _GENERATION: runtime["generation"]},
            "env": [f"{key}={value}" for key, value in config.environment_variables.items()],
            "mode": ServiceMode("replicated", replicas=config.replicas),
            "networks": [NetworkAttachmentConfig(runtime["network"], aliases=[deployment.name])],
            "endpoint_spec": EndpointSpec(mode=config.endpoint_mode, ports=ports),
            "healthcheck": Healthcheck(
                test=["CMD", "python", "-c", _probe()],
                interval=_HEALTH_INTERVAL_S * _NS,
                timeout=_HEALTH_TIMEOUT_S * _NS,
                retries=_HEALTH_RETRIES,
                start_period=_HEALTH_START_PERIOD_S * _NS,
            ),
            "resources": Resources(
                cpu_limit=int(config.cpu_cores * _NS) if config.cpu_cores is not None else None,
                mem_limit=int(config.memory_gb * 1024**3) if config.memory_gb is not None else None,
            ),
            "restart_policy": RestartPolicy(condition="on-failure", delay=_NS, max_attempts=_RESTART_ATTEMPTS, window=120 * _NS),
            "update_config": UpdateConfig(
                parallelism=1, order="start-first", failure_action="rollback", monitor=MONITOR_S * _NS, max_failure_ratio=0
            ),
            "rollback_config": RollbackConfig(parallelism=1, order="start-first", failure_action="pause", monitor=MONITOR_S * _NS),
            "stop_grace_period": _STOP_GRACE_S * _NS,
            "secrets": secrets,
        }
        existing = self._service(runtime["service"])
        try:
            if existing is None:
                deployment.log(f"[mlnb] creating Swarm service {runtime['service']}: {config.replicas} replica(s) of {image}")
                self.client.services.create(**options)
            else:
                deployment.log(f"[mlnb] rolling Swarm service {runtime['service']} over to {image} (new tasks first)")
                existing.update(**options)
        except APIError as error:
            raise DeploymentFailed(f"Swarm refused the service: {error.explanation or error}") from None

    def _ensure_network(self, name: str) -> None:
        if self.client.networks.list(names=[name], filters={"driver": "overlay"}):
            return
        try:
            self.client.networks.create(name, driver="overlay", attachable=True, labels={"mlnb.network": "true"})
        except APIError as error:
            if "already exists" not in str(error):
                raise

    def _keys_secret(self, service: str, keys: tuple[str, str], labels: dict[str, str]) -> SecretReference:
        data = "".join(f"{key}\n" for key in keys).encode()
        # Secrets cannot change: a new pair of keys is a new secret, named by its hash.
        name = f"{service}-keys-{hashlib.sha256(data).hexdigest()[:12]}"
        found = self.client.secrets.list(filters={"name": name})
        secret = next((s for s in found if s.name == name), None)
        if secret is None:
            secret = self.client.secrets.create(name=name, data=data, labels=labels)
        return SecretReference(secret.id, name, filename=Path(KEYS_FILE).name, uid="10001", gid="10001", mode=0o400)

    # -- observing ---------------------------------------------------------------------

    def _service(self, name: str) -> Service | None:
        try:
            return self.client.services.get(name)
        except NotFound:
            return None

    def _find(self, record: ServiceRecord) -> Service | None:
        """The record's service, by name, else by its labels (a service renamed outside mlnb)."""
        service = self._service(record.runtime["service"])
        if service is not None:
            return service
        labels = [f"mlnb.service={record.name}", f"mlnb.backend={self.name}"]
        labels.append(f"mlnb.workspace={record.runtime['workspace']}")
        found = self.client.services.list(filters={"label": labels})
        return found[0] if len(found) == 1 else None

    def tasks(self, record: ServiceRecord) -> list[dict[str, Any]]:
        """The service's tasks of the record's generation, newest first (empty when it is gone)."""
        service = self._find(record)
        if service is None:
            return []
        tasks = [t for t in service.tasks() if _generation(t) == record.runtime["generation"]]
        return sorted(tasks, key=lambda t: t.get("CreatedAt", ""), reverse=True)

    def status(self, record: ServiceRecord) -> RuntimeStatus:
        """``starting`` while building or until a task of this version runs, ``running``, or
        ``exited`` (the build failed, the tasks keep failing, or Swarm rolled the update back)."""
        marker = Path(record.runtime["log"]).with_name(_FAILURE_MARKER)
        if marker.exists():
            return RuntimeStatus("exited", marker.read_text())
        building = self._builds.get(record.runtime["service"])
        service = self._find(record)
        if service is None:
            if building is not None and building.is_alive():
                return RuntimeStatus("starting")
            return RuntimeStatus("exited", "the Swarm service is gone (removed outside mlnb, or the build was interrupted)")
        update = service.attrs.get("UpdateStatus") or {}
        spec_generation = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Labels", {}).get(_GENERATION)
        if spec_generation != record.runtime["generation"]:
            # While the build runs, the update is not sent yet: a rollback on record is an earlier update's.
            if building is not None and building.is_alive():
                return RuntimeStatus("starting")
            if update.get("State") in _ROLLED_BACK:
                return RuntimeStatus(
                    "exited",
                    f"the new version failed, and Swarm rolled the service back: the previous version keeps serving "
                    f"({update.get('Message', 'no message')}); see service.get_logs() for the new task's error",
                )
            return RuntimeStatus("exited", "the Swarm service now runs another version (deployed from another kernel?)")
        tasks = self.tasks(record)
        states = [t["Status"]["State"] for t in tasks]
        if "running" in states:
            return RuntimeStatus("running")
        failed = [t for t in tasks if t["Status"]["State"] in ("failed", "rejected")]
        if any(state in _PENDING for state in states) or len(failed) < _RESTART_ATTEMPTS:
            return RuntimeStatus("starting")
        status = failed[0]["Status"]
        code = status.get("ContainerStatus", {}).get("ExitCode")
        return RuntimeStatus("exited", f"every task failed ({len(failed)} tries); the last: {status.get('Err') or status.get('Message')} (exit {code})")

    def ready(self, record: ServiceRecord) -> bool:
        """Whether a task of this version runs: with the health check, that means ``/ready`` answered."""
        return any(t["Status"]["State"] == "running" for t in self.tasks(record))

    def replica_states(self, record: ServiceRecord) -> list[str]:
        """The Swarm state of each task of this version meant to run, by slot (``running`` is healthy)."""
        wanted = [t for t in self.tasks(record) if t["DesiredState"] == "running"]
        return [t["Status"]["State"] for t in sorted(wanted, key=lambda t: t.get("Slot", 0))]

    def logs(self, record: ServiceRecord) -> str:
        """The deployment log (build included), then every task's output, each line tagged with its task."""
        path = Path(record.runtime["log"])
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return text + "".join(f"{line}\n" for line in self._task_lines(record, follow=False))

    def stream_logs(self, record: ServiceRecord, *, follow: bool) -> Iterator[str]:
        """Yield the deployment log's lines (following the build), then the tasks' as they come."""
        path = Path(record.runtime["log"])
        if path.exists():
            with open(path, encoding="utf-8", errors="replace") as handle:
                while True:
                    line = handle.readline()
                    if line:
                        yield line.rstrip("\n")
                        continue
                    if not follow or self._find(record) is not None or self.status(record).phase == "exited":
                        break
                    time.sleep(0.1)
                yield from (line.rstrip("\n") for line in handle)
        yield from self._task_lines(record, follow=follow)

    def _task_lines(self, record: ServiceRecord, *, follow: bool) -> Iterator[str]:
        service = self._find(record)
        if service is None:
            return
        slots = {t["ID"]: f"{service.name}.{t.get('Slot', '?')}.{t['ID'][:8]}" for t in service.tasks()}
        pending = b""
        for chunk in service.logs(stdout=True, stderr=True, details=True, follow=follow):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield _tag(line.decode("utf-8", errors="replace"), slots)
        if pending:
            yield _tag(pending.decode("utf-8", errors="replace"), slots)

    def sampler(self, record: ServiceRecord) -> Sampler:
        """Swarm services are not profiled: profile one replica on the Docker backend and plan from it."""
        raise ProfileFailed(
            f"service {record.name!r} runs on Swarm; profile its model with backend='docker' (one replica) "
            "and size the replicas with mlnb.profiling.plan_capacity"
        )

    # -- changing ----------------------------------------------------------------------

    def scale(self, record: ServiceRecord, replicas: int) -> None:
        """Ask Swarm for ``replicas`` tasks; tasks start (or stop) in the background.

        Raises:
            InvalidConfiguration: for a count below 1 (``service.delete()`` stops a service).
            DeploymentFailed: when the service is gone.
        """
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise InvalidConfiguration(f"invalid value for replicas, expected a whole number of at least 1 (not {replicas!r})")
        service = self._find(record)
        if service is None:
            raise DeploymentFailed(f"service {record.name!r} has no Swarm service to scale; deploy it again")
        # The service's own spec with only the mode changed, as `docker service scale` sends
        # it: docker-py's update_service rebuilds the spec (empty placement, resources, DNS
        # config), which Swarm takes as a new version and restarts every task for.
        spec = {**service.attrs["Spec"], "Mode": {"Replicated": {"Replicas": replicas}}}
        api = self.client.api
        response = api._post_json(api._url("/services/{0}/update", service.id), data=spec, params={"version": service.version})
        api._raise_for_status(response)

    def switch(self, record: ServiceRecord, deployment: Deployment, *, rebuild: bool, timeout: float) -> dict[str, Any]:
        """Roll the service over to the new version and wait for the outcome.

        Swarm starts each new task first and rolls back by itself when one fails, so the
        old version serves throughout. ``reload`` rebuilds too: tasks have no writable
        copy of the source to replace.
        """
        runtime = self.start(deployment)
        new = dataclasses.replace(record, runtime=runtime)
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(new)
            if status.phase == "running":
                return runtime
            if status.phase == "exited" or time.monotonic() > deadline:
                self._cancels[runtime["service"]].set()
                logs = self.logs(new)
                # The failure is the new version's: the old one's state must not read it.
                Path(runtime["log"]).with_name(_FAILURE_MARKER).unlink(missing_ok=True)
                reason = (status.detail or "it exited") if status.phase == "exited" else f"it was not ready after {timeout:g} s"
                raise DeploymentFailed(reason, logs=logs)
            time.sleep(_SWITCH_POLL_S)

    def stop(self, record: ServiceRecord) -> None:
        """Cancel a build under way, remove the service and its key secrets, and wait for its tasks to go."""
        name = record.runtime.get("service")
        if name in self._cancels:
            self._cancels[name].set()
            self._builds[name].join(_CANCEL_WAIT_SECONDS)
        service = self._find(record) if name else None
        if service is None:
            return
        service.remove()
        deadline = time.monotonic() + _REMOVE_WAIT_SECONDS
        # The low-level list: the high-level one inspects each container, and these vanish meanwhile.
        while time.monotonic() < deadline and self.client.api.containers(all=True, filters={"label": f"com.docker.swarm.service.name={name}"}):
            time.sleep(0.2)
        for secret in self.client.secrets.list(filters={"name": f"{name}-keys-"}):
            try:
                secret.remove()
            except APIError:
                pass  # still held by a task that is shutting down; the next stop removes it


def _generation(task: dict[str, Any]) -> str | None:
    labels: dict[str, str] = task.get("Spec", {}).get("ContainerSpec", {}).get("Labels") or {}
    return labels.get(_GENERATION)


def _tag(line: str, slots: dict[str, str]) -> str:
    """``com.docker.swarm.…task.id=ID,… message`` (``details=True``) → ``[service.slot.id] message``."""
    details, _, message = line.partition(" ")
    attributes = dict(item.split("=", 1) for item in details.split(",") if "=" in item)
    task = attributes.get("com.docker.swarm.task.id")
    if task is None:
        return line
    return f"[{slots.get(task, task[:8])}] {message}"


def _probe() -> str:
    return (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}/ready', timeout={_HEALTH_TIMEOUT_S})"
    )
