"""The Docker backend: each service is an image built from mlnb's build context, run as
a container whose port 5001 is published on ``127.0.0.1:<port>``.

The build runs in a background thread so ``wait_for_deployment(show_output=True)`` can
stream it from its first step; its lines go to the deployment log. Containers carry
labels (workspace, service) and names derived from them, so a fresh kernel finds them.

The published port belongs to a small *port holder* container (``…-net<n>``, like a
Kubernetes pod's pause container); each server generation (``…-<n>``) runs in the
holder's network namespace. So a new version starts next to the old one, listening on
the same port 5001 with ``SO_REUSEPORT``, and joins it only once its ``init()`` has
returned; then the old container is stopped. The published port never changes hands,
and a request is never routed to a server that cannot answer it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tarfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import requests
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.types import Mount

from mlnb.deploy._records import ServiceRecord
from mlnb.deploy.backends._base import (
    Deployment,
    RuntimeStatus,
    collection_arguments,
    collection_folder,
    http_ready,
    keys_file_text,
)
from mlnb.deploy.backends._sampling import CgroupSampler, DockerStatsSampler, Sampler
from mlnb.errors import DeploymentFailed, DockerUnavailable, MlnbError, ProfileFailed
from mlnb.image import (
    APP_ROOT,
    CONTAINER_PORT,
    SERVER_USER_ID,
    assemble_context,
    build_or_reuse,
    connect,
    push_image,
    resolve_base_image,
    stage_source,
)

_FAILURE_MARKER = "build.failed"
_BUILDING_MARKER = "build.pid"
_CANCEL_WAIT_SECONDS = 60.0
# How long an old container may take to finish the requests it has when a new one took over.
_DRAIN_SECONDS = 30
_POLL_SECONDS = 0.25
_LISTEN_AFTER_INIT = {"MLNB_LISTEN_AFTER_INIT": "1"}
# Where the keys file is copied into a server container: Docker's place for secrets.
_KEYS_PATH = "/run/secrets/mlnb-auth-keys"
# Where a collecting server container sees the workspace's collection folder (a bind mount).
_COLLECT_ROOT = "/var/lib/mlnb/collected"
# The port holder waits for SIGTERM and does nothing else.
_HOLDER_COMMAND = [
    "python3", "-c",
    "import signal; s = {signal.SIGTERM, signal.SIGINT}; signal.pthread_sigmask(signal.SIG_BLOCK, s); signal.sigwait(s)",
]
# When a listener closes, the kernel moves the connections waiting in its accept queue to
# another listener of the port (Linux 5.14+) instead of resetting them.
_MIGRATE_SYSCTL = {"net.ipv4.tcp_migrate_req": "1"}
# Run in a new server container: how many of its own processes' sockets listen on 5001.
_LISTENING_PROBE = f"""
import os
inodes = set()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        for fd in os.listdir(f"/proc/{{pid}}/fd"):
            link = os.readlink(f"/proc/{{pid}}/fd/{{fd}}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        pass
count = 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        with open(table) as handle:
            rows = [line.split() for line in handle.readlines()[1:]]
    except OSError:
        continue
    count += sum(1 for row in rows if row[3] == "0A" and row[1].endswith(":{CONTAINER_PORT:04X}") and row[9] in inodes)
print(count)
"""


def _listening_workers(container: Container) -> int:
    """How many workers listen on the port inside ``container`` (0 when it stopped since its last reload)."""
    try:
        result = container.exec_run(["python", "-c", _LISTENING_PROBE])
    except APIError as error:
        if "is not running" in str(error):  # it exited (init() failed) since reload(): the next round says how
            return 0
        raise
    return int(result.output.decode().strip() or 0) if result.exit_code == 0 else 0


class DockerBackend:
    """Runs services as local Docker containers.

    Raises:
        DockerUnavailable: when no Docker engine answers.
    """

    name = "docker"

    def __init__(self) -> None:
        self.client = connect()
        self._builds: dict[str, threading.Thread] = {}
        self._cancels: dict[str, threading.Event] = {}

    # -- starting ----------------------------------------------------------------------

    def start(self, deployment: Deployment) -> dict[str, Any]:
        """Begin building the image and starting the container, in a background thread."""
        runtime = self._runtime(deployment, generation=1, holder=None)
        folder = deployment.folder
        (folder / _FAILURE_MARKER).unlink(missing_ok=True)
        with _engine():
            self._remove_service_containers(deployment.labels)
        (folder / _BUILDING_MARKER).write_text(f"{os.getpid()} {psutil.Process().create_time()}")
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._build_and_run,
            args=(deployment, runtime, cancel),
            name=f"mlnb-build-{deployment.name}",
            daemon=True,
        )
        self._builds[runtime["container"]] = thread
        self._cancels[runtime["container"]] = cancel
        thread.start()
        return runtime

    @staticmethod
    def _runtime(deployment: Deployment, *, generation: int, holder: str | None) -> dict[str, Any]:
        workspace_id = hashlib.sha256(deployment.labels["mlnb.workspace"].encode()).hexdigest()[:8]
        prefix = f"mlnb-{workspace_id}-{deployment.name}"
        return {
            "container": f"{prefix}-{generation}",
            "holder": holder or f"{prefix}-net{generation}",
            "generation": generation,
            "image": f"mlnb/{deployment.name}:{workspace_id}",
            "log": str(deployment.log_path),
            "memory_gb": deployment.config.memory_gb,
            "workers": deployment.config.workers or 1,
            "workspace": deployment.labels["mlnb.workspace"],
        }

    def _build_and_run(self, deployment: Deployment, runtime: dict[str, Any], cancel: threading.Event) -> None:
        try:
            image = self._build(deployment, runtime["image"], cancel)
            commit = deployment.commit or _always_current
            with commit(runtime, cancel) as current:
                if cancel.is_set() or not current:
                    return  # deleted or replaced meanwhile: not ours to start any more
                self._run(deployment, runtime, image, source=None)
        except Exception as error:  # the thread's only way to report is the marker and the log
            with contextlib.suppress(FileNotFoundError):  # the service folder goes with a delete
                if isinstance(error, MlnbError):
                    message = str(error)
                    deployment.log(f"[mlnb] error: {message}")
                else:  # a bug: the log keeps its traceback, for the user to report
                    message = f"{type(error).__name__}: {error} (unexpected: the deployment log holds its traceback)"
                    deployment.log("[mlnb] error: " + "".join(traceback.format_exception(error)).rstrip())
                (deployment.folder / _FAILURE_MARKER).write_text(message)
        finally:
            (deployment.folder / _BUILDING_MARKER).unlink(missing_ok=True)

    def _build(self, deployment: Deployment, tag: str, cancel: threading.Event | None) -> str:
        """Build (or find) the image, tag it ``tag``, push it when asked; return its content-named tag."""
        context = assemble_context(
            deployment.models,
            deployment.inference_config,
            target_dir=deployment.folder / "context",
            wheelhouse_cache=deployment.wheelhouse_cache,
            base_image=deployment.config.base_image,
            log=deployment.log,
            requirements=deployment.requirements,
            collect_data=deployment.collect_dir is not None,
        )
        image = build_or_reuse(self.client, context, tag, labels=deployment.labels, log=deployment.log, cancel=cancel)
        if deployment.config.registry is not None and not (cancel is not None and cancel.is_set()):
            push_image(image, deployment.config.registry, client=self.client, log=deployment.log)
        return image

    def _run(self, deployment: Deployment, runtime: dict[str, Any], image: str, *, source: Path | None) -> Container:
        """Start a server generation in the port holder (made first when missing); return its container."""
        self._ensure_holder(deployment, runtime)
        container = self._create(deployment, runtime, image)
        if source is not None:
            container.put_archive(APP_ROOT, _tar_folder(source))
        if deployment.keys:
            container.put_archive("/", _tar_keys(keys_file_text(deployment.keys)))
        # Logged before the start: once the container runs, readers move on to its own logs.
        deployment.log(f"[mlnb] starting container {container.name} on 127.0.0.1:{deployment.port}")
        try:
            container.start()
        except APIError as error:
            container.remove(force=True)
            raise DeploymentFailed(f"the container did not start: {error.explanation or error}") from None
        return container

    def _ensure_holder(self, deployment: Deployment, runtime: dict[str, Any]) -> None:
        """The container that publishes the port: reused while it runs, else made anew."""
        try:
            holder = self.client.containers.get(runtime["holder"])
            if holder.status == "running":
                return
            holder.remove(force=True)
        except NotFound:
            pass
        options: dict[str, Any] = {
            "command": _HOLDER_COMMAND,
            "name": runtime["holder"],
            "labels": {**deployment.labels, "mlnb.role": "port"},
            "ports": {f"{CONTAINER_PORT}/tcp": ("127.0.0.1", deployment.port)},
            "detach": True,
        }
        image = resolve_base_image(deployment.config.base_image)
        try:
            try:
                self.client.containers.run(image, sysctls=_MIGRATE_SYSCTL, **options)
            except APIError as error:
                if "sysctl" not in str(error).lower():
                    raise
                self._remove_container(runtime["holder"])  # an older kernel: no migration, a rare reset
                self.client.containers.run(image, **options)
        except APIError as error:
            self._remove_container(runtime["holder"])
            raise DeploymentFailed(f"the port holder container did not start: {error.explanation or error}") from None

    def _create(self, deployment: Deployment, runtime: dict[str, Any], image: str) -> Container:
        config = deployment.config
        command = ["python", "-m", "mlnb.serving", "--host", "0.0.0.0", "--port", str(CONTAINER_PORT)]
        if config.workers is not None:
            command += ["--workers", str(config.workers)]
        if deployment.keys:
            command += ["--auth-keys-file", _KEYS_PATH]
        limits: dict[str, Any] = {}
        folder = collection_folder(deployment)
        if folder is not None:
            command += collection_arguments(deployment, _COLLECT_ROOT)
            limits.update(_collection_mount(folder))
        if config.cpu_cores is not None:
            limits["nano_cpus"] = int(config.cpu_cores * 1e9)
        if config.memory_gb is not None:
            memory = f"{int(config.memory_gb * 1024)}m"
            limits.update(mem_limit=memory, memswap_limit=memory)  # no swap: the limit is the limit
        return self.client.containers.create(
            image,
            command=command,
            name=runtime["container"],
            labels={**deployment.labels, "mlnb.role": "server"},
            environment={**config.environment_variables, **_LISTEN_AFTER_INIT},
            network_mode=f"container:{runtime['holder']}",
            **limits,
        )

    # -- observing ---------------------------------------------------------------------

    def _get(self, name: str | None) -> Container | None:
        if not name:
            return None
        try:
            return self.client.containers.get(name)
        except NotFound:
            return None

    def status(self, record: ServiceRecord) -> RuntimeStatus:
        """``starting`` while building, ``running``, or ``exited`` with the reason.

        Raises:
            DockerUnavailable: when the engine does not answer.
        """
        with _engine():
            container = self._get(record.runtime.get("container"))
            if container is None:
                return self._status_without_container(record)
            status = _container_status(container, record.runtime.get("memory_gb"))
            if status.phase == "running" and record.runtime.get("holder"):
                holder = self._get(record.runtime["holder"])
                if holder is None or holder.status != "running":
                    return RuntimeStatus("exited", f"the container {record.runtime['holder']} that publishes the port is gone")
            return status

    def _status_without_container(self, record: ServiceRecord) -> RuntimeStatus:
        build = self._builds.get(record.runtime["container"])
        if build is not None and build.is_alive():
            return RuntimeStatus("starting")
        folder = Path(record.runtime["log"]).parent
        marker = folder / _FAILURE_MARKER
        if marker.exists():
            return RuntimeStatus("exited", marker.read_text())
        if _builder_alive(folder / _BUILDING_MARKER):
            return RuntimeStatus("starting")  # built by another process
        return RuntimeStatus("exited", "the container is gone (removed outside mlnb, or the build was interrupted)")

    def ready(self, record: ServiceRecord) -> bool:
        """Whether the container's server answers ``/ready`` on the published port."""
        return http_ready(record.port)

    def logs(self, record: ServiceRecord) -> str:
        """The deployment log (build included), then the container's output.

        Raises:
            DockerUnavailable: when the engine does not answer.
        """
        path = Path(record.runtime["log"])
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        with _engine():
            container = self._get(record.runtime["container"])
            if container is not None:
                text += container.logs().decode("utf-8", errors="replace")
        return text

    def stream_logs(self, record: ServiceRecord, *, follow: bool) -> Iterator[str]:
        """Yield the deployment log's lines (following the build while it runs), then the
        container's as they come."""
        path = Path(record.runtime["log"])
        with _engine():
            container = self._get(record.runtime["container"])
        if path.exists():
            with open(path, encoding="utf-8", errors="replace") as handle:
                while True:
                    line = handle.readline()
                    if line:
                        yield line.rstrip("\n")
                        continue
                    if container is not None or not follow or self.status(record).phase == "exited":
                        break
                    time.sleep(0.1)
                    with _engine():
                        container = self._get(record.runtime["container"])
                yield from (line.rstrip("\n") for line in handle)
        if container is None:
            return
        pending = b""
        with _engine():
            for chunk in container.logs(stream=True, follow=follow):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace")
        if pending:
            yield pending.decode("utf-8", errors="replace")

    def sampler(self, record: ServiceRecord) -> Sampler:
        """The container's cgroup files when they are readable here, else the engine's stats stream."""
        with _engine():
            container = self._get(record.runtime["container"])
        if container is None or container.status != "running":
            raise ProfileFailed(f"service {record.name!r} has no running container; redeploy it and profile again")
        return CgroupSampler.for_pid(container.attrs["State"]["Pid"]) or DockerStatsSampler(container)

    # -- changing ----------------------------------------------------------------------

    def switch(self, record: ServiceRecord, deployment: Deployment, *, rebuild: bool, timeout: float) -> dict[str, Any]:
        """Start a new server container in the port holder next to the old one, then stop the old one.

        ``rebuild`` builds the image again (only changed layers); otherwise the new
        container runs the old one's image with the source directory copied in.
        """
        old = record.runtime
        self._cancel_build(old.get("container"))  # an image this process is still building for the old version
        same_port = deployment.port == record.port and bool(old.get("holder"))
        runtime = self._runtime(deployment, generation=int(old.get("generation", 0)) + 1, holder=old["holder"] if same_port else None)
        with _engine():
            self._remove_strays(deployment.labels, keep={old.get("container"), old.get("holder")})
            if rebuild:
                image, source = self._build(deployment, runtime["image"], cancel=None), None
            else:
                image = self._image_of(record) or runtime["image"]
                source = deployment.folder / "reload-source"
                stage_source(deployment.inference_config.source_directory, source)
            try:
                container = self._run(deployment, runtime, image, source=source)
                self._wait_listening(container, runtime["workers"], timeout, record.runtime.get("memory_gb"))
            except BaseException:
                self._remove_container(runtime["container"])
                if not same_port:
                    self._remove_container(runtime["holder"])
                raise
            deployment.log("[mlnb] the new container answers on the port; stopping the old one")
            self._stop_gracefully(old.get("container"))
            if not same_port:
                self._remove_container(old.get("holder"))
        return runtime

    def _image_of(self, record: ServiceRecord) -> str | None:
        """The image the running container was made from (the tag may name a newer build by now)."""
        container = self._get(record.runtime.get("container"))
        return str(container.attrs["Image"]) if container is not None else None

    def _wait_listening(self, container: Container, workers: int, timeout: float, memory_gb: float | None) -> None:
        """Wait until every worker in ``container`` listens on the port (so ``init()`` returned in each)."""
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            status = _container_status(container, memory_gb)
            if status.phase == "exited":
                output = container.logs().decode("utf-8", errors="replace")
                raise DeploymentFailed(status.detail or "the container exited", logs=output)
            if status.phase == "running":
                if _listening_workers(container) >= workers:
                    return
            if time.monotonic() > deadline:
                output = container.logs().decode("utf-8", errors="replace")
                raise DeploymentFailed(f"it was not ready after {timeout:g} s", logs=output)
            time.sleep(_POLL_SECONDS)

    def stop(self, record: ServiceRecord) -> None:
        """Cancel a build under way and remove the service's containers (the image stays, as
        the cache of the next deploy).

        Raises:
            DockerUnavailable: when the engine does not answer (nothing is removed).
        """
        name = record.runtime.get("container")
        self._cancel_build(name)
        with _engine():
            self._remove_container(name)
            self._remove_container(record.runtime.get("holder"))
            if "workspace" in record.runtime:
                self._remove_service_containers({"mlnb.workspace": record.runtime["workspace"], "mlnb.service": record.name})

    def _cancel_build(self, name: str | None) -> None:
        if name in self._cancels:
            self._cancels[name].set()
            self._builds[name].join(_CANCEL_WAIT_SECONDS)

    def _stop_gracefully(self, name: str | None) -> None:
        container = self._get(name)
        if container is None:
            return
        with contextlib.suppress(APIError):
            container.stop(timeout=_DRAIN_SECONDS)
        self._remove_container(name)

    def _remove_strays(self, labels: dict[str, str], *, keep: set[str | None]) -> None:
        """Remove the service's containers that no record names (left by a process that died mid-switch)."""
        for container in self._service_containers(labels):
            if container.name not in keep:
                container.remove(force=True)

    def _remove_service_containers(self, labels: dict[str, str]) -> None:
        for container in self._service_containers(labels):
            container.remove(force=True)

    def _service_containers(self, labels: dict[str, str]) -> list[Container]:
        wanted = [f"mlnb.workspace={labels['mlnb.workspace']}", f"mlnb.service={labels['mlnb.service']}"]
        containers: list[Container] = self.client.containers.list(all=True, filters={"label": wanted})
        # Servers first: a holder is removed after the containers that use its network.
        return sorted(containers, key=lambda c: c.labels.get("mlnb.role") == "port")

    def _remove_container(self, name: str | None) -> None:
        if not name:
            return
        try:
            self.client.containers.get(name).remove(force=True)
        except NotFound:
            pass


def labelled_workspaces() -> set[Path]:
    """The workspaces named by the ``mlnb.workspace`` label of the containers on the engine.

    Raises:
        DockerUnavailable: when no engine answers.
    """
    with _engine():
        containers = connect().containers.list(all=True, filters={"label": "mlnb.workspace"})
    return {Path(container.labels["mlnb.workspace"]) for container in containers}


@contextlib.contextmanager
def _engine() -> Iterator[None]:
    """Turn a lost connection to the engine into :class:`DockerUnavailable`."""
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DockerUnavailable(f"the Docker engine is unreachable ({first}); start it, or check DOCKER_HOST") from None


@contextlib.contextmanager
def _always_current(runtime: dict[str, Any], cancel: threading.Event) -> Iterator[bool]:
    yield True


def _container_status(container: Container, memory_gb: float | None) -> RuntimeStatus:
    state = container.attrs["State"]
    if state["Status"] == "running":
        return RuntimeStatus("running")
    if state["Status"] == "created":
        return RuntimeStatus("starting")
    if state.get("OOMKilled"):
        return RuntimeStatus(
            "exited",
            f"the container was killed for memory: it exceeded memory_gb={memory_gb}; deploy with a larger memory_gb",
        )
    return RuntimeStatus("exited", f"the container exited with status {state.get('ExitCode')}")


def _collection_mount(folder: Path) -> dict[str, Any]:
    """Container options that bind-mount the service's collection folder (owner-only, 0700).

    A bind mount, not a volume: the files land in the workspace as they are written, so
    ``get_collected_data()`` reads them with no copy-out, a crashed container's files are
    there too, and a switch's old and new container write into the same folder. The
    server writes as the folder's owner: the notebook's user (``user=uid:gid``) when that
    is not root, so the files are the user's own; a root notebook keeps the image's
    non-root user and hands the folder to it.
    """
    options: dict[str, Any] = {
        "mounts": [Mount(target=f"{_COLLECT_ROOT}/{folder.name}", source=str(folder), type="bind")],
    }
    if os.getuid() != 0:
        options["user"] = f"{os.getuid()}:{os.getgid()}"
    else:
        os.chown(folder, SERVER_USER_ID, SERVER_USER_ID)
    return options


def _builder_alive(marker: Path) -> bool:
    """Whether the process named in a build marker (pid and start time) still runs."""
    try:
        pid, started = marker.read_text().split()
        return abs(psutil.Process(int(pid)).create_time() - float(started)) < 1.0
    except (OSError, ValueError, psutil.Error):
        return False


def _tar_keys(text: str) -> bytes:
    """``/run/secrets/mlnb-auth-keys``, root-owned and read-only, as Docker and Swarm mount secrets."""
    buffer = io.BytesIO()
    data = text.encode()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        folder = tarfile.TarInfo(str(Path(_KEYS_PATH).parent).lstrip("/"))
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(folder)
        info = tarfile.TarInfo(_KEYS_PATH.lstrip("/"))
        info.size, info.mode = len(data), 0o444
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _tar_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(folder.rglob("*")):
            info = archive.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            info.uid = info.gid = 0
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with open(path, "rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return buffer.getvalue()
