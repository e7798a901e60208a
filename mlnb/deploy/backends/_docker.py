"""The Docker backend: each service is an image built from mlnb's build context, run as
a container whose port 5001 is published on ``127.0.0.1:<port>``.

The build runs in a background thread so ``wait_for_deployment(show_output=True)`` can
stream it from its first step; its lines go to the deployment log. Containers carry
labels (workspace, service) and a name derived from them, so a fresh kernel finds them.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound
from docker.models.containers import Container

from mlnb.deploy._records import ServiceRecord
from mlnb.deploy.backends._base import Deployment, RuntimeStatus, http_ready
from mlnb.deploy.backends._sampling import CgroupSampler, DockerStatsSampler, Sampler
from mlnb.errors import DeploymentFailed, MlnbError, ProfileFailed
from mlnb.image import APP_ROOT, CONTAINER_PORT, assemble_context, build_or_reuse, connect, push_image, stage_source

_FAILURE_MARKER = "build.failed"
_CANCEL_WAIT_SECONDS = 60.0


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
        workspace_id = hashlib.sha256(deployment.labels["mlnb.workspace"].encode()).hexdigest()[:8]
        container = f"mlnb-{workspace_id}-{deployment.name}"
        runtime: dict[str, Any] = {
            "container": container,
            "image": f"mlnb/{deployment.name}:{workspace_id}",
            "log": str(deployment.log_path),
            "memory_gb": deployment.config.memory_gb,
        }
        (deployment.folder / _FAILURE_MARKER).unlink(missing_ok=True)
        self._remove_container(container)
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._build_and_run,
            args=(deployment, runtime, cancel),
            name=f"mlnb-build-{deployment.name}",
            daemon=True,
        )
        self._builds[container] = thread
        self._cancels[container] = cancel
        thread.start()
        return runtime

    def _build_and_run(self, deployment: Deployment, runtime: dict[str, Any], cancel: threading.Event) -> None:
        try:
            self._build(deployment, runtime["image"], cancel)
            if cancel.is_set():
                deployment.log("[mlnb] deployment cancelled")
                return
            self._run(deployment, runtime, runtime["image"])
        except Exception as error:  # the thread's only way to report is the marker and the log
            if isinstance(error, MlnbError):
                message = str(error)
                deployment.log(f"[mlnb] error: {message}")
            else:  # a bug: the log keeps its traceback, for the user to report
                message = f"{type(error).__name__}: {error} (unexpected: the deployment log holds its traceback)"
                deployment.log("[mlnb] error: " + "".join(traceback.format_exception(error)).rstrip())
            (deployment.folder / _FAILURE_MARKER).write_text(message)

    def _build(self, deployment: Deployment, tag: str, cancel: threading.Event) -> None:
        context = assemble_context(
            deployment.models,
            deployment.inference_config,
            target_dir=deployment.folder / "context",
            wheelhouse_cache=deployment.wheelhouse_cache,
            base_image=deployment.config.base_image,
            log=deployment.log,
            requirements=deployment.requirements,
        )
        image = build_or_reuse(self.client, context, tag, labels=deployment.labels, log=deployment.log, cancel=cancel)
        if deployment.config.registry is not None and not cancel.is_set():
            push_image(image, deployment.config.registry, client=self.client, log=deployment.log)

    def _run(self, deployment: Deployment, runtime: dict[str, Any], image: str) -> None:
        self._start_container(self._create(deployment, runtime, image), deployment)

    def _create(self, deployment: Deployment, runtime: dict[str, Any], image: str) -> Container:
        config = deployment.config
        command = ["python", "-m", "mlnb.serving", "--host", "0.0.0.0", "--port", str(CONTAINER_PORT)]
        if config.workers is not None:
            command += ["--workers", str(config.workers)]
        for key in deployment.keys or ():
            command += ["--auth-key", key]
        limits: dict[str, Any] = {}
        if config.cpu_cores is not None:
            limits["nano_cpus"] = int(config.cpu_cores * 1e9)
        if config.memory_gb is not None:
            memory = f"{int(config.memory_gb * 1024)}m"
            limits.update(mem_limit=memory, memswap_limit=memory)  # no swap: the limit is the limit
        container = self.client.containers.create(
            image,
            command=command,
            name=runtime["container"],
            labels=deployment.labels,
            environment=dict(config.environment_variables),
            ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", deployment.port)},
            **limits,
        )
        return container

    @staticmethod
    def _start_container(container: Container, deployment: Deployment) -> None:
        # Logged before the start: once the container runs, readers move on to its own logs.
        deployment.log(f"[mlnb] starting container {container.name} on 127.0.0.1:{deployment.port}")
        try:
            container.start()
        except APIError as error:
            container.remove(force=True)
            raise DeploymentFailed(f"the container did not start: {error.explanation or error}") from None

    # -- observing ---------------------------------------------------------------------

    def _container(self, record: ServiceRecord) -> Container | None:
        try:
            return self.client.containers.get(record.runtime["container"])
        except NotFound:
            return None

    def status(self, record: ServiceRecord) -> RuntimeStatus:
        """``starting`` while building, ``running``, or ``exited`` with the reason."""
        container = self._container(record)
        if container is None:
            build = self._builds.get(record.runtime["container"])
            if build is not None and build.is_alive():
                return RuntimeStatus("starting")
            marker = Path(record.runtime["log"]).with_name(_FAILURE_MARKER)
            if marker.exists():
                return RuntimeStatus("exited", marker.read_text())
            return RuntimeStatus("exited", "the container is gone (removed outside mlnb, or the build was interrupted)")
        state = container.attrs["State"]
        if state["Status"] == "running":
            return RuntimeStatus("running")
        if state["Status"] == "created":
            return RuntimeStatus("starting")
        if state.get("OOMKilled"):
            return RuntimeStatus(
                "exited",
                f"the container was killed for memory: it exceeded memory_gb={record.runtime['memory_gb']}; "
                "deploy with a larger memory_gb",
            )
        return RuntimeStatus("exited", f"the container exited with status {state.get('ExitCode')}")

    def ready(self, record: ServiceRecord) -> bool:
        """Whether the container's server answers ``/ready`` on the published port."""
        return http_ready(record.port)

    def logs(self, record: ServiceRecord) -> str:
        """The deployment log (build included), then the container's output."""
        path = Path(record.runtime["log"])
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        container = self._container(record)
        if container is not None:
            text += container.logs().decode("utf-8", errors="replace")
        return text

    def stream_logs(self, record: ServiceRecord, *, follow: bool) -> Iterator[str]:
        """Yield the deployment log's lines (following the build while it runs), then the
        container's as they come."""
        path = Path(record.runtime["log"])
        container = self._container(record)
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
                    container = self._container(record)
                yield from (line.rstrip("\n") for line in handle)
        if container is None:
            return
        pending = b""
        for chunk in container.logs(stream=True, follow=follow):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", errors="replace")
        if pending:
            yield pending.decode("utf-8", errors="replace")

    def sampler(self, record: ServiceRecord) -> Sampler:
        """The container's cgroup files when they are readable here, else the engine's stats stream."""
        container = self._container(record)
        if container is None or container.status != "running":
            raise ProfileFailed(f"service {record.name!r} has no running container; redeploy it and profile again")
        return CgroupSampler.for_pid(container.attrs["State"]["Pid"]) or DockerStatsSampler(container)

    # -- changing ----------------------------------------------------------------------

    def reload(self, record: ServiceRecord, deployment: Deployment) -> dict[str, Any]:
        """Start a new container from the same image with the source copied in: no rebuild."""
        source = deployment.folder / "reload-source"
        stage_source(deployment.inference_config.source_directory, source)
        self._remove_container(record.runtime["container"])
        runtime = {**record.runtime}
        (deployment.folder / _FAILURE_MARKER).unlink(missing_ok=True)
        container = self._create(deployment, runtime, runtime["image"])
        container.put_archive(APP_ROOT, _tar_folder(source))
        self._start_container(container, deployment)
        return runtime

    def stop(self, record: ServiceRecord) -> None:
        """Cancel a build under way and remove the container (the image stays, as the cache of the next deploy)."""
        name = record.runtime.get("container")
        if name in self._cancels:
            self._cancels[name].set()
            self._builds[name].join(_CANCEL_WAIT_SECONDS)
        self._remove_container(name)

    def _remove_container(self, name: str | None) -> None:
        if not name:
            return
        try:
            self.client.containers.get(name).remove(force=True)
        except NotFound:
            pass


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
