"""What every backend does: start a service, tell how it is, show its logs, stop it.

A backend turns a :class:`Deployment` (what to run) into a running service on
``127.0.0.1:<port>`` and gives back a small JSON-ready ``runtime`` dict that lets it find
that service again from another kernel (a PID, a container name). The engine keeps the
rest: records, states, waiting, errors.
"""

from __future__ import annotations

import http.client
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol

from mlnb.config import DeploymentConfiguration, InferenceConfig
from mlnb.deploy._records import ServiceRecord
from mlnb.deploy.backends._sampling import Sampler
from mlnb.image import DeployableModel


@dataclass(frozen=True)
class Deployment:
    """Everything a backend needs to start a service.

    Attributes:
        name: the service name.
        folder: the service's folder in the workspace (staging area and logs).
        models: the models to serve.
        inference_config: the entry script, source directory and environment.
        config: ports, limits, backend options.
        port: the host port, already chosen and checked.
        keys: the primary and secondary keys, when auth is enabled.
        requirements: pip requirements of the service (given or inferred).
        labels: metadata to attach where the backend can (Docker labels).
        wheelhouse_cache: the workspace's cache of resolved wheels, for backends that build
            images.
        collect_dir: the workspace's collection folder (the dataset root the server writes
            ``service=<name>/date=<day>/`` Parquet files under), when the service collects
            data; created owner-only.
        commit: for a backend that finishes starting in the background (a Docker build):
            ``with deployment.commit(runtime, cancel) as current:`` holds the service's lock
            and says whether ``runtime`` is still the one recorded (the service was not
            deleted or replaced meanwhile); the backend starts its server only then. It
            gives up (``current`` is False) once ``cancel`` is set.
    """

    name: str
    folder: Path
    models: Sequence[DeployableModel]
    inference_config: InferenceConfig
    config: DeploymentConfiguration
    port: int
    keys: tuple[str, str] | None
    requirements: Sequence[str]
    labels: dict[str, str]
    wheelhouse_cache: Path
    collect_dir: Path | None = None
    commit: Callable[[dict[str, Any], threading.Event], AbstractContextManager[bool]] | None = None

    #: The deployment log's name in the service folder.
    LOG_NAME: ClassVar[str] = "deploy.log"

    @property
    def log_path(self) -> Path:
        """The deployment log: what mlnb and the build said, and for processes the server too."""
        return self.folder / self.LOG_NAME

    def log(self, line: str) -> None:
        """Append a line to the deployment log."""
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")


class RuntimeStatus(NamedTuple):
    """How a service's container or process is doing.

    Attributes:
        phase: ``"starting"`` (building or booting), ``"running"``, or ``"exited"``.
        detail: for an exited service, why (exit code, out of memory, build error).
    """

    phase: str
    detail: str | None = None


class Backend(Protocol):
    """The interface of a deployment backend."""

    name: str

    def start(self, deployment: Deployment) -> dict[str, Any]:
        """Start (or begin starting) the service; return the runtime dict to record.

        A backend may keep working in the background (a Docker build); it reports
        progress to the deployment log and its outcome through :meth:`status`.
        """
        ...

    def status(self, record: ServiceRecord) -> RuntimeStatus:
        """Report whether the service is starting, running or gone."""
        ...

    def ready(self, record: ServiceRecord) -> bool:
        """Whether a running service answers its readiness route (``init()`` has succeeded)."""
        ...

    def logs(self, record: ServiceRecord) -> str:
        """Everything the service printed so far, after the deployment log."""
        ...

    def stream_logs(self, record: ServiceRecord, *, follow: bool) -> Iterator[str]:
        """Yield log lines as they come; with ``follow``, until the service stops."""
        ...

    def switch(self, record: ServiceRecord, deployment: Deployment, *, rebuild: bool, timeout: float) -> dict[str, Any]:
        """Replace a service's server by a new one without dropping a request; return the new runtime.

        The new server is prepared (built, or staged) while the old one serves, started next
        to it on ``deployment.port``, and takes requests only once its ``init()`` has
        returned; then the old one is stopped (after the requests it has). It blocks until
        that is done. Servers of the service that no record names (left by a process that
        died during a switch) are stopped first.

        Args:
            record: the service as recorded, with the old server's runtime (empty when
                none runs).
            deployment: what the new server runs.
            rebuild: build what changed (``update``); False reuses the old server's build
                and copies the source directory in again (``reload``).
            timeout: seconds the new server may take to become ready.

        Raises:
            DeploymentFailed: when the new server failed (its ``init()`` raised, it exited,
                or it was not ready in time); it is stopped and the old one still serves.
                ``logs`` holds the new server's output.
        """
        ...

    def stop(self, record: ServiceRecord) -> None:
        """Stop and remove the service, every server of it included; a no-op when it is already gone."""
        ...

    def sampler(self, record: ServiceRecord) -> Sampler:
        """A reader of the running service's CPU time and memory, for profiling.

        Raises:
            ProfileFailed: when the service is not running, or this backend cannot be sampled.
        """
        ...


def http_ready(port: int, *, timeout: float = 1.0) -> bool:
    """Whether the scoring server on ``127.0.0.1:port`` answers its readiness route with 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/ready")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def server_arguments(*, entry_script: str, model_dir: str, deployment: Deployment, port: int, keys_file: str | None) -> list[str]:
    """The scoring server's command-line arguments for a deployment (never a secret: keys go in ``keys_file``)."""
    arguments = ["--entry-script", entry_script, "--model-dir", model_dir, "--port", str(port)]
    if deployment.config.workers is not None:
        arguments += ["--workers", str(deployment.config.workers)]
    if keys_file is not None:
        arguments += ["--auth-keys-file", keys_file]
    return arguments


def collection_arguments(deployment: Deployment, collect_dir: str) -> list[str]:
    """The server flags that make it collect into ``collect_dir`` (its path as the server sees it).

    The service name is the ``service=`` partition (and the swagger title): a service's
    successive servers, and its old and new one during a switch, write to one dataset.
    """
    return ["--service-name", deployment.name, "--collect-dir", collect_dir]


def collection_folder(deployment: Deployment) -> Path | None:
    """The service's own folder of the collection (``<collect_dir>/service=<name>``), made
    owner-only, or ``None`` when the service does not collect."""
    if deployment.collect_dir is None:
        return None
    folder = deployment.collect_dir / f"service={deployment.name}"
    for path in (deployment.collect_dir, folder):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # also when it existed: collected requests are the users' data
    return folder


def keys_file_text(keys: Sequence[str]) -> str:
    """The keys file the server reads: one key per line, primary first."""
    return "".join(f"{key}\n" for key in keys)


def write_keys_file(path: Path, keys: Sequence[str]) -> Path:
    """Write the keys to a new file readable by its owner only (mode 0600) and return its path."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(keys_file_text(keys))
    return path

