"""``DeployPanel``: a form that deploys models and follows the service to Healthy."""

from __future__ import annotations

import html
import time
from collections.abc import Callable

import ipywidgets as widgets

from mlnb._facade import Model
from mlnb._links import browser_link
from mlnb.config import InferenceConfig, LocalWebservice, backend_names
from mlnb.deploy import Webservice
from mlnb.errors import DeploymentTimeout, InvalidConfiguration
from mlnb.registry import Workspace
from mlnb.widgets._background import Background
from mlnb.widgets._style import bar, panel, stylesheet, title
from mlnb.widgets.logs import LogView

#: The steps a deployment goes through, as the progress indicator shows them.
PHASES = ("build", "start", "init", "Healthy")
_POLL_SECONDS = 0.25


def deploy_phase(state: str, logs: str) -> str:
    """Where a deployment is, from its state and its log.

    ``build`` covers dependency resolution and the image build (staging, for a process);
    ``start`` begins when the container or process is started; ``init`` when the scoring
    server is up and the entry script's ``init()`` runs; ``Healthy`` when it answers.
    """
    if state == "Healthy":
        return "Healthy"
    if "mlnb.serving: serving" in logs:
        return "init"
    if "[mlnb] starting the scoring server" in logs or "[mlnb] started container" in logs:
        return "start"
    return "build"


def steps_html(phase: str | None, *, failed: bool = False) -> str:
    """The progress indicator: steps before ``phase`` done, ``phase`` current (or failed)."""
    current = PHASES.index(phase) if phase in PHASES else -1
    chips = []
    for index, step in enumerate(PHASES):
        if index < current or (step == "Healthy" and phase == "Healthy"):
            kind, mark = "done", "&#x2714; "
        elif index == current:
            kind, mark = ("failed", "&#x2716; ") if failed else ("now", "&#x25CF; ")
        else:
            kind, mark = "todo", ""
        chips.append(f"<span class='mlnb-step mlnb-step-{kind}'>{mark}{step}</span>")
    return "<div class='mlnb-steps'>" + "<span class='mlnb-muted'>&#x2192;</span>".join(chips) + "</div>"


class DeployPanel(widgets.HBox):
    """Deploy models as a local service, with progress and the log beside the form.

    Pick the models, an entry script (empty for a no-code scikit-learn or ONNX model), a
    source directory, the backend, port, CPU and memory; *Deploy* replaces a service of
    the same name. Progress goes build → start → init → Healthy; the URIs show when it is
    Healthy, and a failure shows as one line with the log beside it.

    Args:
        workspace: the workspace holding the models.
        timeout_sec: how long a deployment may take to become Healthy.
    """

    def __init__(self, workspace: Workspace, *, timeout_sec: float = 600) -> None:
        self.workspace = workspace
        self.timeout_sec = timeout_sec
        self._listeners: list[Callable[[Webservice], None]] = []
        self.service: Webservice | None = None
        wide = {"description_width": "110px"}
        self._status = widgets.HTML()
        self._jobs = Background(self._status)
        self._name = widgets.Text(value="myservice", description="Service name", style=wide)
        self._models = widgets.SelectMultiple(options=[], rows=4, description="Models", style=wide)
        self._entry_script = widgets.Text(description="Entry script", placeholder="score.py (empty: no-code model)", style=wide)
        self._source_directory = widgets.Text(description="Source folder", placeholder="src (default: the script's folder)", style=wide)
        self._backend = widgets.Dropdown(options=list(backend_names()), value="auto", description="Backend", style=wide)
        self._replicas = widgets.BoundedIntText(value=1, min=1, max=100, description="Replicas", style=wide,
                                                tooltip="Swarm tasks (backend swarm only)")
        self._port = widgets.BoundedIntText(value=0, min=0, max=65535, description="Port", style=wide, tooltip="0: a free port")
        self._cpu = widgets.BoundedFloatText(value=0, min=0, max=256, step=0.1, description="CPU cores", style=wide)
        self._memory = widgets.BoundedFloatText(value=0, min=0, max=1024, step=0.25, description="Memory (GB)", style=wide)
        self._deploy = widgets.Button(description="Deploy", icon="rocket", button_style="primary")
        self._deploy.on_click(lambda _: self.deploy())
        self._steps = widgets.HTML(steps_html(None))
        self._result = widgets.HTML()
        for field in (self._name, self._models, self._entry_script, self._source_directory, self._backend):
            field.layout.width = "420px"
        for name, field in {"backend": self._backend, "name": self._name, "entry-script": self._entry_script,
                            "source-directory": self._source_directory, "deploy": self._deploy,
                            "replicas": self._replicas}.items():
            field.add_class(f"mlnb-deploy-{name}")  # stable hooks for browser tests
        self._log = LogView(workspace, height="360px")
        hint = widgets.HTML("<span class='mlnb-muted'>0 = a free port / no limit; replicas: swarm only</span>")
        form = widgets.VBox(
            [
                title("Deploy"),
                self._name,
                self._models,
                self._entry_script,
                self._source_directory,
                self._backend,
                self._replicas,
                self._port,
                self._cpu,
                self._memory,
                hint,
                bar([self._deploy]),
                self._steps,
                self._result,
                self._status,
            ],
            layout=widgets.Layout(width="440px", min_width="440px", margin="0 16px 0 0"),
        )
        super().__init__([stylesheet(), form, widgets.VBox([self._log], layout=widgets.Layout(flex="1 1 auto"))])
        panel(self)
        self.refresh_models()

    def on_deployed(self, callback: Callable[[Webservice], None]) -> None:
        """Call ``callback(service)`` when a deployment became Healthy."""
        self._listeners.append(callback)

    def refresh_models(self) -> None:
        """Read the registry (and the backends) again; keeps the chosen models that still exist."""
        self._backend.options = list(backend_names())  # a backend registered since (keeps the choice: it is still there)
        ids = [m.id for m in Model.list(self.workspace)]
        chosen = tuple(i for i in self._models.value if i in ids)
        self._models.options = ids
        # The latest version of the first name is the likely choice.
        self._models.value = chosen or tuple(ids[:1])

    def configure(
        self,
        *,
        name: str | None = None,
        models: list[str] | None = None,
        entry_script: str | None = None,
        source_directory: str | None = None,
        backend: str | None = None,
        port: int | None = None,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        replicas: int | None = None,
    ) -> DeployPanel:
        """Fill the form from code (what a notebook that prepares a demo does); returns the panel."""
        fields = {
            self._name: name, self._models: tuple(models) if models is not None else None,
            self._entry_script: entry_script, self._source_directory: source_directory, self._backend: backend,
            self._port: port, self._cpu: cpu_cores, self._memory: memory_gb, self._replicas: replicas,
        }
        for field, value in fields.items():
            if value is not None:
                field.value = value
        return self

    @property
    def log_view(self) -> LogView:
        """The log view beside the form."""
        return self._log

    @property
    def busy(self) -> bool:
        """Whether a deployment is running."""
        return self._jobs.busy

    @property
    def error(self) -> BaseException | None:
        """Why the last deployment failed, if it did."""
        return self._jobs.last_error

    def deploy(self) -> bool:
        """Deploy what the form says, in the background (what *Deploy* does).

        Returns:
            Whether a deployment started (not while another runs).
        """
        form = {
            "name": self._name.value.strip(),
            "models": list(self._models.value),
            "entry_script": self._entry_script.value.strip(),
            "source_directory": self._source_directory.value.strip() or None,
            "backend": self._backend.value,
            "port": self._port.value or None,
            "cpu_cores": self._cpu.value or None,
            "memory_gb": self._memory.value or None,
            "replicas": self._replicas.value,
        }
        self._result.value = ""
        self._steps.value = steps_html("build")
        return self._jobs.run(lambda: self._run(**form), buttons=[self._deploy], name=f"mlnb-deploy-{form['name']}")

    def _run(
        self,
        *,
        name: str,
        models: list[str],
        entry_script: str,
        source_directory: str | None,
        backend: str,
        port: int | None,
        cpu_cores: float | None,
        memory_gb: float | None,
        replicas: int,
    ) -> None:
        phase = "build"
        try:
            if not models:
                raise InvalidConfiguration("choose at least one model to deploy")
            if source_directory and not entry_script:
                raise InvalidConfiguration("a source folder needs an entry script")
            inference_config = InferenceConfig(entry_script, source_directory=source_directory) if entry_script else None
            config = LocalWebservice.deploy_configuration(port, cpu_cores=cpu_cores, memory_gb=memory_gb, backend=backend,
                                                          replicas=replicas)
            service = Model.deploy(self.workspace, name, models, inference_config, config, overwrite=True)
            self.service = service
            self._log.follow(name)
            deadline = time.monotonic() + self.timeout_sec
            while True:
                state = service.state
                phase = deploy_phase(state, service.get_logs())
                self._steps.value = steps_html(phase)
                if state == "Healthy":
                    break
                if state == "Failed":
                    service.wait_for_deployment(timeout_sec=0)  # raises the engine's DeploymentFailed
                if time.monotonic() > deadline:
                    raise DeploymentTimeout(
                        f"service {name!r} was not Healthy after {self.timeout_sec:g} s (state {state}); see its log"
                    )
                time.sleep(_POLL_SECONDS)
        except BaseException:
            self._steps.value = steps_html(phase, failed=True)
            raise
        self._result.value = _uris_html(service)
        for listener in self._listeners:
            listener(service)

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running deployment (tests and scripts)."""
        self._jobs.join(timeout)

    def close(self) -> None:
        """Stop the log view's threads and close the widgets."""
        self._log.close()
        super().close()


def _uris_html(service: Webservice) -> str:
    rows = [("scoring", service.scoring_uri), ("swagger", service.swagger_uri)]
    links = "".join(
        f"<div>{label} <a class='mlnb-mono' href='{html.escape(browser_link(uri))}' target='_blank'>{html.escape(uri)}</a></div>"
        for label, uri in rows
    )
    return f"<div class='mlnb-ok'>&#x2714; {html.escape(service.name)} is Healthy</div>{links}"
