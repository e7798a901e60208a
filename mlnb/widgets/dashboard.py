"""``Dashboard``: every panel in one set of tabs (``%mlnb`` in a notebook)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from mlnb.deploy import Webservice
from mlnb.registry import Workspace
from mlnb.widgets._style import panel, stylesheet
from mlnb.widgets.deploy import DeployPanel
from mlnb.widgets.logs import LogView
from mlnb.widgets.monitor import MonitorPanel
from mlnb.widgets.profile import ProfilePanel
from mlnb.widgets.registry import RegistryPanel
from mlnb.widgets.request import RequestPanel
from mlnb.widgets.services import ServicesPanel

TABS = ("Services", "Models", "Deploy", "Logs", "Test", "Profile", "Monitor")


class Dashboard(widgets.VBox):
    """Tabs over the services list, the registry, the deploy form, the logs, test requests,
    profiling and live metrics, wired together: a new deployment shows in the services list, the log
    tab and the test and profile panels; a new model shows in the deploy form.

    Args:
        workspace: the workspace to work on.
        refresh_seconds: seconds between refreshes of the services list; ``None`` for none.

    Example:
        >>> from mlnb.widgets import Dashboard
        >>> Dashboard(Workspace.from_config())      # or %mlnb after %load_ext mlnb
    """

    def __init__(self, workspace: Workspace, *, refresh_seconds: float | None = 5.0) -> None:
        self.workspace = workspace
        self.services = ServicesPanel(workspace, refresh_seconds=refresh_seconds)
        self.registry = RegistryPanel(workspace)
        self.deploy = DeployPanel(workspace)
        self.logs = LogView(workspace, height="420px")
        self.requests = RequestPanel(workspace)
        self.profile = ProfilePanel(workspace)
        self.monitor = MonitorPanel(workspace)
        self._log_service = widgets.Dropdown(options=[], description="Service", layout=widgets.Layout(width="320px"))
        self._log_service.observe(self._on_log_service, names="value")
        self._tabs = widgets.Tab(
            [
                self.services,
                self.registry,
                self.deploy,
                widgets.VBox([self._log_service, self.logs]),
                self.requests,
                self.profile,
                self.monitor,
            ],
            titles=TABS,
        )
        self.registry.on_change(self.deploy.refresh_models)
        self.deploy.on_deployed(self._deployed)
        self.services.on_change(self._services_changed)
        self.services.on_states(self._states_changed)
        self._healthy: set[str] = set()
        header = widgets.HTML(
            f"<div class='mlnb-title' title='{html.escape(str(workspace.path))}'>mlnb "
            f"<span class='mlnb-muted' style='font-weight:400'>workspace</span> {html.escape(workspace.name)}</div>"
        )
        super().__init__([stylesheet(), header, self._tabs], layout=widgets.Layout(width="100%"))
        panel(self)
        self._services_changed(sorted(s.name for s in Webservice.list(workspace)))

    def show(self, tab: str) -> Dashboard:
        """Open a tab by title (``"Deploy"``, …); returns the dashboard."""
        self._tabs.selected_index = TABS.index(tab)
        return self

    def _deployed(self, service: Webservice) -> None:
        self.services.refresh()
        self.requests.refresh_services(select=service.name)
        self.profile.refresh_services(select=service.name)
        self.monitor.refresh_services(select=service.name)

    def _services_changed(self, names: list[str]) -> None:
        keep = self._log_service.value
        self._log_service.options = names
        self._log_service.value = keep if keep in names else (names[0] if names else None)
        self.requests.refresh_services()
        self.profile.refresh_services()
        self.monitor.refresh_services()

    def _states_changed(self, states: dict[str, str]) -> None:
        healthy = {name for name, state in states.items() if state == "Healthy"}
        for name in sorted(healthy - self._healthy):  # turned Healthy: its swagger example exists now
            self.requests.service_healthy(name)
            self.profile.service_healthy(name)
        self._healthy = healthy

    def _on_log_service(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.logs.follow(change["new"])
        else:
            self.logs.stop()

    def close(self) -> None:
        """Stop the panels' threads and close the widgets."""
        for child in (self.services, self.logs, self.deploy, self.monitor):
            child.close()
        super().close()
