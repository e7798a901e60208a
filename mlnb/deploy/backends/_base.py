"""What every backend does: start a service, tell how it is, show its logs, stop it.

A backend turns a :class:`Deployment` (what to run) into a running service on
``127.0.0.1:<port>`` and gives back a small JSON-ready ``runtime`` dict that lets it find
that service again from another kernel (a PID, a container name). The engine keeps the
rest: records, states, waiting, errors.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

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

    @property
    def log_path(self) -> Path:
        """The deployment log: what mlnb and the build said, and for processes the server too."""
        return self.folder / "deploy.log"

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

    def reload(self, record: ServiceRecord, deployment: Deployment) -> dict[str, Any]:
        """Restart the service's workers on newly staged source, without a rebuild."""
        ...

    def stop(self, record: ServiceRecord) -> None:
        """Stop and remove the service; a no-op when it is already gone."""
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


def server_arguments(*, entry_script: str, model_dir: str, deployment: Deployment, port: int) -> list[str]:
    """The scoring server's command-line arguments for a deployment."""
    arguments = ["--entry-script", entry_script, "--model-dir", model_dir, "--port", str(port)]
    if deployment.config.workers is not None:
        arguments += ["--workers", str(deployment.config.workers)]
    for key in deployment.keys or ():
        arguments += ["--auth-key", key]
    return arguments
