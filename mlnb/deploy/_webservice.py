"""``Webservice``: the handle to a deployed service, shaped like Azure's, and :func:`deploy`,
which starts a service and returns its handle.

A handle holds only the workspace and the name: everything else is read from the
service record and the backend each time, so two kernels looking at one service agree.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mlnb import _html
from mlnb.client import DEFAULT_TIMEOUT_S, ScoringClient
from mlnb.config import DeploymentConfiguration, InferenceConfig
from mlnb.deploy import _index as index
from mlnb.deploy import _records as records
from mlnb.deploy._lifecycle import delete_service, reload_service, replace_key, start_service, update_service
from mlnb.deploy._monitoring import Since, read_service_data, read_service_metrics
from mlnb.deploy._progress import LiveProgress, in_notebook
from mlnb.deploy._records import ServiceRecord
from mlnb.deploy._traceback import last_traceback
from mlnb.deploy.backends import Deployment, Sampler, get_backend, labelled_workspaces
from mlnb.errors import (
    DeploymentFailed,
    DeploymentTimeout,
    DockerUnavailable,
    InvalidConfiguration,
    ScoringError,
    ServiceNotFound,
    WorkspaceNotFound,
)
from mlnb.registry import Model, Workspace, check_workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["STATES", "ServiceList", "Webservice", "deploy"]

STATES = ("Transitioning", "Healthy", "Unhealthy", "Failed", "Unknown", "Deleted")
_POLL_SECONDS = 0.2


class Webservice:
    """A deployed service.

    Args:
        workspace: the workspace the service was deployed from.
        name: the service name.

    Raises:
        ServiceNotFound: when no service of that name is recorded.
    """

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = check_workspace(workspace)
        self.name = name
        records.load(workspace, name)  # fail now, with the list of services, if it is unknown
        self._deleted = False
        self._unknown: str | None = None

    # -- what it is --------------------------------------------------------------------

    @property
    def _record(self) -> ServiceRecord:
        return records.load(self.workspace, self.name)

    @property
    def backend(self) -> str:
        """``"docker"`` or ``"process"``."""
        return self._record.backend

    @property
    def port(self) -> int:
        """The host port on 127.0.0.1."""
        return self._record.port

    @property
    def scoring_uri(self) -> str:
        """The URI to POST scoring requests to.

        ``http://127.0.0.1:<port>/score``, except for a Swarm service with
        ``endpoint_mode="dnsrr"``, which publishes no port: its URI inside its overlay
        network, ``http://tasks.<swarm service>:5001/score``, which only containers on that
        network can reach (:attr:`reachable_from` says so).
        """
        return _uri(self._record, "/score")

    @property
    def swagger_uri(self) -> str:
        """The URI of the service's OpenAPI (swagger) document (inside the network, as :attr:`scoring_uri`)."""
        return _uri(self._record, "/swagger.json")

    @property
    def reachable_from(self) -> str:
        """Who can reach :attr:`scoring_uri`: ``"this machine"``, or the containers on a Swarm overlay network."""
        return _reachable_from(self._record)

    @property
    def auth_enabled(self) -> bool:
        """Whether ``/score`` requires a key."""
        return self._record.keys is not None

    @property
    def token_auth_enabled(self) -> bool:
        """Always False: local services use keys, not Azure AD tokens (kept so Azure client code runs)."""
        return False

    @property
    def models(self) -> list[str]:
        """The ids of the models the service serves."""
        return list(self._record.spec["models"])

    @property
    def entry_script(self) -> Path:
        """The absolute path of the entry script the service runs (what ``reload()`` copies in again)."""
        return InferenceConfig.deserialize(self._record.spec["inferenceConfig"]).entry_script_path

    @property
    def requirements(self) -> list[str]:
        """The pip requirements the service was built with (given or inferred)."""
        return list(self._record.spec.get("requirements", []))

    @property
    def error(self) -> str | None:
        """Why the service failed, when it did; why its state is unknown, when it is."""
        if self.state == "Unknown":
            return self._unknown
        record = records.find(self.workspace, self.name)
        return record.error if record is not None else None

    @property
    def state(self) -> str:
        """``"Transitioning"``, ``"Healthy"``, ``"Unhealthy"``, ``"Failed"``, ``"Unknown"`` or ``"Deleted"``.

        ``Unknown`` means the service's engine cannot be reached (``error`` says why): the
        service may well be serving. Reading the state never raises.
        """
        try:
            return self._state()
        except ServiceNotFound:
            return "Deleted"

    def _state(self) -> str:
        if self._deleted:
            return "Deleted"
        record = self._record
        if record.state == "Failed":
            return "Failed"
        if not record.runtime:
            return "Transitioning"  # recorded, and its backend is starting it
        try:
            backend = get_backend(record.backend)
            status = backend.status(record)
        except DockerUnavailable as error:
            self._unknown = f"the {record.backend} engine is unreachable, so the state is unknown: {error}"
            return "Unknown"
        if status.phase == "exited":
            records.update(self.workspace, self.name, state="Failed", error=status.detail)
            return "Failed"
        if status.phase == "starting":
            return "Transitioning"
        if backend.ready(record):
            state = "Healthy"
        else:
            state = "Unhealthy" if record.state in ("Healthy", "Unhealthy") else "Transitioning"
        if state != record.state:
            records.update(self.workspace, self.name, state=state)
        return state

    # -- lifecycle ---------------------------------------------------------------------

    def wait_for_deployment(
        self, show_output: bool = False, timeout_sec: float = 600, *, out: TextIO | None = None, live: bool | None = None
    ) -> None:
        """Wait until the service is Healthy, showing its progress when asked.

        In a notebook, ``show_output=True`` shows one line updated in place (the phase, the
        elapsed time, the log's last line), then the outcome with the full log collapsed
        under it and, on a failure, the traceback; in a terminal it prints the build and
        server logs as they come.

        Args:
            show_output: show the progress (a notebook) or the logs (a terminal).
            timeout_sec: how long to wait.
            out: where to print the logs (default: standard output); implies plain text.
            live: the one updated line (True) or the logs as text (False); default: the
                line in a Jupyter kernel when ``out`` is not given.

        Raises:
            DeploymentFailed: when the service failed; it carries the logs and the ``init()``
                traceback, and the state becomes ``"Failed"``.
            DeploymentTimeout: when it was not ready in time.
        """
        if show_output and (live if live is not None else out is None and in_notebook()):
            with LiveProgress(self.name, self.get_logs) as progress:
                try:
                    self._wait(timeout_sec)
                except DeploymentFailed as failure:
                    progress.fail(failure)
                    raise
                progress.finish("Healthy", self.scoring_uri)
            return
        self._wait(timeout_sec, out=(out or sys.stdout) if show_output else None)

    def _wait(self, timeout_sec: float, *, out: TextIO | None = None) -> None:
        """Poll the state until Healthy; print the new log text to ``out`` when given."""
        deadline = time.monotonic() + timeout_sec
        shown = 0
        while True:
            state = self.state
            if out is not None:
                text = self.get_logs()
                if len(text) > shown:
                    out.write(text[shown:])
                    out.flush()
                    shown = len(text)
            if state == "Healthy":
                if out is not None:
                    out.write(f"Healthy: {self.scoring_uri}\n")
                return
            if state == "Failed":
                raise self._failure()
            if time.monotonic() > deadline:
                raise DeploymentTimeout(
                    f"service {self.name!r} was not ready after {timeout_sec:g} s (state {state}); "
                    "see service.get_logs(), or wait longer with timeout_sec="
                )
            time.sleep(_POLL_SECONDS)

    def _failure(self) -> DeploymentFailed:
        logs = self.get_logs()
        traceback = last_traceback(logs)
        message = f"service {self.name!r} failed: {self.error or 'see the logs'}"
        if traceback:
            message += f"\n{traceback}"
        return DeploymentFailed(message, logs=logs)

    def run(self, input_data: Any, *, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        """Score ``input_data`` and return the service's answer, parsed from JSON.

        Args:
            input_data: what Azure's ``run`` accepts (a JSON string, bytes, a dict or a
                list), or a numpy array or pandas DataFrame, sent as ``{"data": ...}`` the
                way :func:`mlnb.score` sends them.
            timeout: seconds to wait for the answer (default 60).

        Returns:
            The parsed JSON answer (the text, when it is not JSON).

        Raises:
            ScoringError: when the service answers with a status other than 200, or does
                not answer at all (``status_code`` 0).
        """
        with ScoringClient(self, timeout=timeout) as client:
            result = client.score(input_data)
        if result.status == 0:
            raise ScoringError(
                f"service {self.name!r} is not answering on {self.scoring_uri} ({result.error}; state {self.state}); "
                "see service.get_logs()",
                status_code=0,
            )
        if not result.ok:
            raise ScoringError(
                f"service {self.name!r} answered {result.status}: {result.message}",
                status_code=result.status,
                body=result.text,
            )
        return result.body

    def get_logs(self, tail: int | None = None) -> str:
        """The deployment and server logs; the last ``tail`` lines when given.

        When the service's engine cannot be reached, the deployment log kept in the
        workspace, and a last line saying so.
        """
        record = self._record
        try:
            text = get_backend(record.backend).logs(record) if record.runtime else self._workspace_log(record)
        except DockerUnavailable as error:
            text = self._workspace_log(record) + (
                f"[mlnb] the {record.backend} engine is unreachable, so only the deployment log kept in the workspace "
                f"is shown: {error}\n"
            )
        if tail is not None:
            text = "".join(text.splitlines(keepends=True)[-tail:]) if tail > 0 else ""
        return text

    def _workspace_log(self, record: ServiceRecord) -> str:
        path = record.folder(self.workspace) / Deployment.LOG_NAME
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stream_logs(self, *, follow: bool = True) -> Iterator[str]:
        """Yield log lines; with ``follow``, as they come until the service stops."""
        record = self._record
        if not record.runtime:
            yield from self._workspace_log(record).splitlines()
            return
        yield from get_backend(record.backend).stream_logs(record, follow=follow)

    def reload(self) -> None:
        """Copy the source directory again and switch to a server running it, without rebuilding.

        The old server keeps answering until the new one is ready; this returns then.

        Raises:
            DeploymentFailed: when the new server failed; the old one still serves.
            ServiceBusy: when another change of the service is under way.
        """
        reload_service(self.workspace, self.name)

    def update(self, *, models: Any = None, inference_config: Any = None, deployment_config: Any = None) -> None:
        """Switch to a version with some parts changed; a Docker build reuses every unchanged layer.

        The new version is built and started next to the old one, which keeps answering
        until the new one is ready; this returns then.

        Args:
            models: new models (default: the current ones).
            inference_config: a new InferenceConfig (default: the current one).
            deployment_config: a new deployment configuration (default: the current one;
                the port is kept unless the new configuration names one).

        Raises:
            DeploymentFailed: when the new version failed; the old one still serves.
            ServiceBusy: when another change of the service is under way.
        """
        update_service(
            self.workspace, self.name, models=models, inference_config=inference_config, deployment_config=deployment_config
        )

    def scale(self, replicas: int) -> None:
        """Run ``replicas`` copies of the service (Swarm services); Swarm starts or stops them in the background.

        Raises:
            InvalidConfiguration: for a service whose backend runs one copy, or a count below 1.
        """
        record = self._record
        scale = getattr(get_backend(record.backend), "scale", None)
        if scale is None:
            raise InvalidConfiguration(f"service {self.name!r} runs on the {record.backend} backend, one copy; deploy it with backend='swarm' to scale")
        scale(record, replicas)
        config = {**record.spec["deploymentConfig"], "replicas": replicas}
        # The running version is no longer the one fingerprinted: the next redeploy switches.
        spec = {key: value for key, value in record.spec.items() if key != "fingerprint"}
        records.update(self.workspace, self.name, spec={**spec, "deploymentConfig": config})

    @property
    def replicas(self) -> tuple[int, int]:
        """``(running, desired)``: how many copies serve and how many were asked for.

        A Swarm service counts its healthy (``running``) tasks; a backend that runs one copy
        counts it when the service is Healthy. Reading it never raises (an unreachable
        engine: 0 running).
        """
        try:
            desired = int(self._record.spec.get("deploymentConfig", {}).get("replicas", 1))
        except ServiceNotFound:
            return 0, 0
        return self.replica_states.count("running"), desired

    @property
    def replica_states(self) -> list[str]:
        """The state of each copy: Swarm's task states by slot (``running``, ``starting``,
        ``preparing``, ``failed`` …), or for a one-copy backend ``["running"]`` when the service
        is Healthy (``[]`` when it is not). Reading it never raises (an unreachable engine: ``[]``).
        """
        try:
            record = self._record
        except ServiceNotFound:
            return []
        try:
            states = getattr(get_backend(record.backend), "replica_states", None)
            if states is not None and record.runtime:
                return list(states(record))
        except DockerUnavailable:
            return []
        return ["running"] if self.state == "Healthy" else []

    def delete(self) -> None:
        """Stop and remove the service and its files; calling it again does nothing."""
        delete_service(self.workspace, self.name)
        self._deleted = True

    def resource_sampler(self) -> Sampler:
        """A reader of the running service's CPU time and memory (the backend's own), for profiling.

        Raises:
            ProfileFailed: when the service is not running.
        """
        record = self._record
        return get_backend(record.backend).sampler(record)

    # -- monitoring (docs/monitoring.md) ----------------------------------------------

    def get_collected_data(self, since: Since | None = None) -> pd.DataFrame:
        """The scoring requests the service collected (``collect_data=True``), oldest first.

        Args:
            since: only requests from then on: a ``datetime`` or ``date`` (naive ones are
                local time), an ISO string, or a ``timedelta`` back from now.

        Returns:
            One row per request (``time``, ``request_id``, ``status``, ``latency_ms``,
            ``inputs``, ``outputs``, ...) and per ``ModelDataCollector.collect()`` call
            of its entry script (``collector`` names it); ``frame.attrs["dropped"]`` counts
            requests left out. Rows reach the files every 5 s (``MLNB_COLLECT_INTERVAL``).

        Raises:
            CollectedDataNotFound: when the service never collected data.
        """
        return read_service_data(self.workspace, self.name, since=since)

    def get_metrics(self) -> pd.DataFrame:
        """The service's Prometheus metrics (``GET /metrics``, with its key when auth is on), one row per sample.

        Raises:
            ScoringError: when the service does not answer, or has metrics off.
        """
        record = self._record
        return read_service_metrics(self.name, record.port, record.keys[0] if record.keys else None)

    # -- keys --------------------------------------------------------------------------

    def get_keys(self) -> tuple[str, str]:
        """The primary and secondary keys.

        Raises:
            InvalidConfiguration: when auth is not enabled for the service.
        """
        keys = self._record.keys
        if keys is None:
            raise InvalidConfiguration(
                f"service {self.name!r} has no keys: deploy it with auth_enabled=True to require one"
            )
        return keys

    def regen_key(self, key: str) -> None:
        """Replace the ``"Primary"`` or ``"Secondary"`` key.

        A server that accepts the new key takes over from the old one without a pause;
        the other key works throughout.

        Raises:
            InvalidConfiguration: for another key name, or when auth is not enabled.
            DeploymentFailed: when the new server failed; the old one, with the old keys, still serves.
        """
        replace_key(self.workspace, self.name, key)

    # -- listing and display -----------------------------------------------------------

    @staticmethod
    def list(workspace: Workspace) -> ServiceList:
        """Every service recorded in the workspace, as a list that renders as a table."""
        services = ServiceList()
        for record in records.list_all(check_workspace(workspace)):
            with contextlib.suppress(ServiceNotFound):  # deleted since the listing
                services.append(Webservice(workspace, record.name))
        return services

    @staticmethod
    def list_everywhere() -> ServiceList:
        """Every service on this machine, across workspaces, with a ``workspace`` column.

        Services outlive the kernel that deployed them; this finds them from any folder:
        the workspaces in the per-user index (each workspace that recorded a service) and
        those named by the labels of mlnb's containers on the Docker engine. A workspace
        that is gone, or holds no service any more, leaves the index.
        """
        paths = set(index.noted_workspaces()) | labelled_workspaces()
        services = ServiceList(across_workspaces=True)
        for path in sorted(paths):
            try:
                listed = Webservice.list(Workspace(path))
            except WorkspaceNotFound:
                index.forget(path)
                continue
            if not listed:
                index.forget(path)
            services.extend(listed)
        return services

    def __repr__(self) -> str:
        record = records.find(self.workspace, self.name)
        if record is None or self._deleted:
            return f"Webservice(workspace={self.workspace!r}, name={self.name!r}, state='Deleted')"
        return f"Webservice(workspace={self.workspace!r}, name={self.name!r}, backend={record.backend!r}, port={record.port})"

    def _repr_html_(self) -> str:
        state = self.state
        record = records.find(self.workspace, self.name)
        if record is None or state == "Deleted":
            return _html.card(f"Webservice {self.name}", [("state", _html.state("Deleted"))])
        rows: list[tuple[str, object]] = [
            ("state", _html.state(state)),
            ("backend", record.backend),
            ("models", ", ".join(record.spec["models"])),
            ("scoring URI", _html.link(_uri(record, "/score"))),
            ("swagger URI", _html.link(_uri(record, "/swagger.json"))),
            ("auth", "key required" if record.keys is not None else "off"),
        ]
        if _reachable_from(record) != _THIS_MACHINE:
            rows.append(("reachable from", _reachable_from(record)))
        if state == "Unknown":
            rows.append(("why", self._unknown))
        elif state == "Failed" and record.error:
            rows.append(("error", record.error))
        return _html.card(f"Webservice {self.name}", rows)


class ServiceList(list[Webservice]):
    """A list of services that shows itself as a table in a notebook (``%services``).

    Args:
        services: the services.
        across_workspaces: the services come from several workspaces, so the table and
            the DataFrame add a ``workspace`` column (the project folder).
    """

    _COLUMNS = ("name", "state", "backend", "port", "models", "scoring_uri")

    def __init__(self, services: Iterable[Webservice] = (), *, across_workspaces: bool = False) -> None:
        super().__init__(services)
        self.across_workspaces = across_workspaces

    def _columns(self) -> list[str]:
        return [*self._COLUMNS, "workspace"] if self.across_workspaces else list(self._COLUMNS)

    def _table(self) -> list[tuple[object, ...]]:
        rows = self.rows()
        if not self.across_workspaces:
            return list(rows)
        return [(*row, str(service.workspace.path.parent)) for row, service in zip(rows, self, strict=True)]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per service: name, state, backend, port, models, scoring URI (and workspace)."""
        import pandas as pd

        return pd.DataFrame(self._table(), columns=self._columns())

    def rows(self) -> list[tuple[str, str, str, int, str, str]]:
        """One tuple per service: name, state, backend, port, models, scoring URI.

        Never raises: a service deleted meanwhile is a ``Deleted`` row, an unreachable
        engine an ``Unknown`` one.
        """
        return [self._row(service) for service in self]

    @staticmethod
    def _row(service: Webservice) -> tuple[str, str, str, int, str, str]:
        state = service.state
        record = records.find(service.workspace, service.name)
        if record is None:
            return service.name, "Deleted", "", 0, "", ""
        return service.name, state, record.backend, record.port, ", ".join(record.spec["models"]), _uri(record, "/score")

    def _repr_html_(self) -> str:
        rows = ((name, _html.state(str(state)), backend, port, models, _html.link(str(uri)) if uri else "", *rest)
                for name, state, backend, port, models, uri, *rest in self._table())
        return _html.table(self._columns(), rows, empty="no services deployed")


_THIS_MACHINE = "this machine"


def _uri(record: ServiceRecord, path: str) -> str:
    """Where ``path`` of the service answers: on 127.0.0.1, or (Swarm, dnsrr) inside its overlay network."""
    internal = record.runtime.get("internal_uri")
    if isinstance(internal, str):
        return internal.removesuffix("/score") + path
    return f"http://127.0.0.1:{record.port}{path}"


def _reachable_from(record: ServiceRecord) -> str:
    if isinstance(record.runtime.get("internal_uri"), str):
        network = record.runtime.get("network", "its network")
        return (f"containers on the overlay network {network!r} only (endpoint_mode='dnsrr' publishes no port on the host; "
                "pass endpoint_mode='vip' to publish one)")
    return _THIS_MACHINE


def deploy(
    workspace: Workspace,
    name: str,
    models: Sequence[Model | str],
    inference_config: InferenceConfig | None = None,
    deployment_config: DeploymentConfiguration | None = None,
    overwrite: bool = False,
) -> Webservice:
    """Deploy models as a local web service and return its handle; see :meth:`mlnb.Model.deploy`."""
    start_service(workspace, name, models, inference_config, deployment_config, overwrite)
    return Webservice(workspace, name)

