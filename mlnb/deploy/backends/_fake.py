"""A backend that runs nothing, for testing code that deploys (like httpx's MockTransport).

Services live in a dict; a test drives them through the methods below and the engine
sees exactly what a real backend would report::

    fake = FakeBackend()
    register_backend("fake", lambda: fake)
    service = Model.deploy(ws, "svc", [model], config, LocalWebservice.deploy_configuration(backend="fake"))
    fake.crash("svc", "Traceback (most recent call last):\\n  ...\\nValueError: bad model")
    service.state   # "Failed"
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlnb.deploy._records import ServiceRecord
from mlnb.deploy.backends._base import Deployment, RuntimeStatus
from mlnb.deploy.backends._sampling import Sampler
from mlnb.errors import MlnbError, ProfileFailed


@dataclass
class FakeService:
    """One pretend service.

    Attributes:
        deployment: what the engine asked to start.
        phase: ``"starting"``, ``"running"`` or ``"exited"``.
        ready: whether its readiness route would answer 200.
        output: what it has printed.
        detail: why it exited.
        reloads: how many times it was reloaded (switched without a rebuild).
        switches: how many times a new version replaced it (update, reload, key change, overwrite).
        replicas: the copies asked for (``deployment.config.replicas``, then :meth:`FakeBackend.scale`).
    """

    deployment: Deployment
    phase: str = "running"
    ready: bool = True
    output: list[str] = field(default_factory=list)
    detail: str | None = None
    reloads: int = 0
    switches: int = 0
    replicas: int = 1


class FakeBackend:
    """An in-memory backend.

    Args:
        start_ready: whether new services are ready at once (else call :meth:`make_ready`).
        fail_start: an error that :meth:`start` and :meth:`switch` raise, to test start-up
            failures and new versions that fail (the old one keeps running).
    """

    name = "fake"

    def __init__(self, *, start_ready: bool = True, fail_start: MlnbError | None = None) -> None:
        self.start_ready = start_ready
        self.fail_start = fail_start
        self.services: dict[str, FakeService] = {}
        self.stopped: list[str] = []

    # -- what tests call ---------------------------------------------------------------

    def make_ready(self, name: str) -> None:
        """Let a starting service become ready."""
        service = self.services[name]
        service.phase, service.ready = "running", True

    def crash(self, name: str, output: str, *, detail: str = "the server process exited with status 3") -> None:
        """Make a service exit after printing ``output`` (an ``init()`` traceback, say)."""
        service = self.services[name]
        service.output.append(output)
        service.phase, service.ready, service.detail = "exited", False, detail

    def hang(self, name: str) -> None:
        """Make a running service stop answering its readiness route."""
        self.services[name].ready = False

    # -- the Backend protocol ----------------------------------------------------------

    def start(self, deployment: Deployment) -> dict[str, Any]:
        """Record the service as started (or raise ``fail_start``)."""
        if self.fail_start is not None:
            raise self.fail_start
        self.services[deployment.name] = FakeService(
            deployment,
            phase="running" if self.start_ready else "starting",
            ready=self.start_ready,
            output=[f"fake server on port {deployment.port}"],
            replicas=deployment.config.replicas,
        )
        return {"fake": True}

    def status(self, record: ServiceRecord) -> RuntimeStatus:
        """The pretend service's phase."""
        service = self.services.get(record.name)
        if service is None:
            return RuntimeStatus("exited", "the fake service is gone")
        return RuntimeStatus(service.phase, service.detail)

    def ready(self, record: ServiceRecord) -> bool:
        """The pretend readiness."""
        service = self.services.get(record.name)
        return service is not None and service.ready

    def logs(self, record: ServiceRecord) -> str:
        """The deployment log followed by what the pretend service printed."""
        service = self.services.get(record.name)
        if service is None:
            return ""
        deploy_log = service.deployment.log_path.read_text() if service.deployment.log_path.exists() else ""
        return deploy_log + "".join(line + "\n" for line in service.output)

    def stream_logs(self, record: ServiceRecord, *, follow: bool) -> Iterator[str]:
        """The log's lines (a fake never produces more later)."""
        yield from self.logs(record).splitlines()

    def switch(self, record: ServiceRecord, deployment: Deployment, *, rebuild: bool, timeout: float) -> dict[str, Any]:
        """Replace the pretend service by a new version (or raise ``fail_start``, leaving it as it was)."""
        if self.fail_start is not None:
            raise self.fail_start
        previous = self.services.get(record.name)
        service = FakeService(deployment, output=[f"fake server on port {deployment.port}"], replicas=deployment.config.replicas)
        if previous is not None:
            service.reloads = previous.reloads
            service.switches = previous.switches
        service.reloads += 0 if rebuild else 1
        service.switches += 1
        self.services[record.name] = service
        return {"fake": True, "generation": service.switches + 1}

    def scale(self, record: ServiceRecord, replicas: int) -> None:
        """Ask for ``replicas`` pretend copies (as the Swarm backend asks Swarm)."""
        self.services[record.name].replicas = replicas

    def replica_states(self, record: ServiceRecord) -> list[str]:
        """One state per copy asked for: ``running`` when the pretend service is ready, else ``starting``."""
        service = self.services.get(record.name)
        if service is None:
            return []
        return ["running" if service.ready else "starting"] * service.replicas

    def stop(self, record: ServiceRecord) -> None:
        """Forget the pretend service."""
        if self.services.pop(record.name, None) is not None:
            self.stopped.append(record.name)

    def sampler(self, record: ServiceRecord) -> Sampler:
        """Always raises: a pretend service has no process to measure."""
        raise ProfileFailed(f"service {record.name!r} runs on the fake backend, which has no process to profile")
