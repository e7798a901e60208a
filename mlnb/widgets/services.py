"""``ServicesPanel``: the workspace's services, their state, and an undeploy button each."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

import ipywidgets as widgets

from mlnb import _html
from mlnb.deploy import ServiceList, Webservice
from mlnb.registry import Workspace
from mlnb.widgets._background import Background, Ticker, error_html
from mlnb.widgets._style import bar, panel, state_badge, stylesheet, title

_COLUMNS = ("name", "state", "backend", "replicas", "port", "models", "scoring URI", "")
_WIDTHS = "minmax(120px, 1.2fr) 120px 80px 70px 70px minmax(140px, 1.5fr) minmax(200px, 2fr) 110px"
_Row = tuple[str, str, str, tuple[str, str], int, str, str]


class ServicesPanel(widgets.VBox):
    """The services of a workspace: state, backend, replicas (running/asked for), port,
    models, and Undeploy (a second click confirms).

    The list refreshes on *Refresh*, after an undeploy, and every ``refresh_seconds`` in
    a background thread (states change on their own: a service can fail or finish starting).

    Args:
        workspace: the workspace whose services to show.
        refresh_seconds: seconds between automatic refreshes; ``None`` for none.
    """

    def __init__(self, workspace: Workspace, *, refresh_seconds: float | None = 5.0) -> None:
        self.workspace = workspace
        self._listeners: list[Callable[[list[str]], None]] = []
        self._state_listeners: list[Callable[[dict[str, str]], None]] = []
        self._status = widgets.HTML()
        self._jobs = Background(self._status)
        self._refresh = widgets.Button(description="Refresh", icon="refresh")
        self._refresh.on_click(lambda _: self._jobs.run(self.refresh, buttons=[self._refresh], name="mlnb-services"))
        self._grid = widgets.GridBox(
            layout=widgets.Layout(grid_template_columns=_WIDTHS, grid_gap="4px 16px", align_items="center", width="100%")
        )
        self._undeploy: dict[str, widgets.Button] = {}
        self._armed_undeploy: str | None = None
        self._states: dict[str, str] = {}
        self._rows: list[_Row] | None = None
        self._lock = threading.Lock()
        super().__init__([stylesheet(), bar([title("Services"), self._refresh]), self._grid, self._status])
        panel(self)
        self.refresh()
        self._ticker = (
            Ticker(self.refresh, interval=refresh_seconds, on_error=self._show_error, name="mlnb-services-refresh")
            if refresh_seconds
            else None
        )

    @property
    def states(self) -> dict[str, str]:
        """Each service's state at the last refresh."""
        return dict(self._states)

    def on_change(self, callback: Callable[[list[str]], None]) -> None:
        """Call ``callback(names)`` after each refresh that changed the list of names."""
        self._listeners.append(callback)

    def on_states(self, callback: Callable[[dict[str, str]], None]) -> None:
        """Call ``callback(states)`` (name to state) after each refresh that changed a row."""
        self._state_listeners.append(callback)

    def refresh(self) -> None:
        """Read every service's state and redraw the list (blocks for a moment: call from threads)."""
        with self._lock:
            rows = _rows(Webservice.list(self.workspace))
            if rows == self._rows:
                return
            changed = [row[0] for row in rows] != [row[0] for row in self._rows or []]
            self._rows = rows
            self._states = {row[0]: row[1] for row in rows}
            self._draw(rows)
        if changed:
            for listener in self._listeners:
                listener(sorted(self._states))
        for state_listener in self._state_listeners:
            state_listener(self.states)

    def _draw(self, rows: list[_Row]) -> None:
        cells: list[widgets.Widget] = [widgets.HTML(f"<b>{h}</b>") for h in _COLUMNS]
        for name, state, backend, replicas, port, models, uri in rows:
            cells += [
                widgets.HTML(f"<b>{html.escape(name)}</b>"),
                widgets.HTML(state_badge(state)),
                widgets.HTML(html.escape(backend)),
                widgets.HTML(f"<span class='mlnb-replicas'>{html.escape(replicas[0])}</span>"
                             + (f"<br><span class='mlnb-replica-states'>{html.escape(replicas[1])}</span>" if replicas[1] else "")),
                widgets.HTML(str(port)),
                widgets.HTML(f"<span class='mlnb-mono' style='overflow-wrap:anywhere'>{html.escape(models)}</span>"),
                widgets.HTML(_html.link(uri) if uri else ""),
                self._undeploy_button(name),
            ]
        if not rows:
            cells.append(widgets.HTML("<span class='mlnb-muted'>no services deployed</span>"))
        old = self._grid.children
        self._grid.children = cells
        # Each cell is a model in the front end too: close the replaced ones rather than leak them.
        for cell in old:
            if not isinstance(cell, widgets.Button):
                cell.close()

    def _undeploy_button(self, name: str) -> widgets.Button:
        button = self._undeploy.get(name)
        if button is None:
            button = widgets.Button(description="Undeploy", icon="trash", button_style="danger", tooltip=f"Stop and remove {name}")
            button.layout.width = "100px"
            button.on_click(lambda _: self._on_undeploy(name))
            self._undeploy[name] = button
        return button

    def _on_undeploy(self, name: str) -> None:
        # Like Delete in the registry: the first click arms, the second removes.
        button = self._undeploy_button(name)
        if self._armed_undeploy != name:
            if self._armed_undeploy in self._undeploy:
                self._undeploy[self._armed_undeploy].description = "Undeploy"
            self._armed_undeploy = name
            button.description = "Confirm"
            self._status.value = f"<span class='mlnb-error'>click <b>Confirm</b> to stop and remove {html.escape(name)}</span>"
            return
        self._armed_undeploy = None
        button.description = "Undeploy"
        self._status.value = ""
        self.undeploy(name)

    def undeploy(self, name: str) -> None:
        """Stop and remove a service, in the background."""

        def work() -> None:
            Webservice(self.workspace, name).delete()
            self._undeploy.pop(name, None)
            self.refresh()

        self._jobs.run(work, buttons=[self._undeploy_button(name), self._refresh], name=f"mlnb-undeploy-{name}")

    def _show_error(self, error: BaseException) -> None:
        self._status.value = error_html(error)

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running refresh or undeploy (tests and scripts)."""
        self._jobs.join(timeout)

    def close(self) -> None:
        """Stop refreshing and close the widgets."""
        if self._ticker is not None:
            self._ticker.stop()
        super().close()


def _rows(services: ServiceList) -> list[_Row]:
    """Each service's row with its replicas as ``running/asked for`` (``"2/3"``) and, for a
    service of several copies, each copy's state (``"running, running, starting"``)."""
    rows = []
    for service, (name, state, backend, port, models, uri) in zip(services, services.rows(), strict=True):
        running, desired = service.replicas if backend else (0, 0)
        states = service.replica_states if desired > 1 else []
        rows.append((name, state, backend, (f"{running}/{desired}" if backend else "", ", ".join(states)), port, models, uri))
    return rows
