"""``ProfilePanel``: profile a running service and show the recommendation and the plot."""

from __future__ import annotations

import html
import io
import json
import time
from typing import Any

import ipywidgets as widgets

from mlnb.deploy import Webservice
from mlnb.errors import InvalidConfiguration
from mlnb.profiling import ModelProfile, profile_service
from mlnb.registry import Workspace
from mlnb.widgets._background import Background
from mlnb.widgets._style import bar, panel, stylesheet, title
from mlnb.widgets.request import swagger_example

_CHECK_SECONDS = 0.5


class _LastLine(io.StringIO):
    """A text stream that shows the last line written to it in a label."""

    def __init__(self, label: widgets.HTML) -> None:
        super().__init__()
        self._label = label

    def write(self, text: str) -> int:
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            self._label.value = f"<span class='mlnb-mono'>{html.escape(lines[-1])}</span>"
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


class ProfilePanel(widgets.VBox):
    """Profile a deployed service under load: duration, concurrency, *Run*, live progress,
    then the recommended CPU and memory and the CPU/memory plot.

    The plot is a PNG in an ``Image`` widget, so it shows in any front end without a
    matplotlib extension.

    Args:
        workspace: the workspace whose services to profile.
        service: the service to select at first.
    """

    def __init__(self, workspace: Workspace, *, service: str | None = None) -> None:
        self.workspace = workspace
        self.profile: ModelProfile | None = None
        wide = {"description_width": "110px"}
        self._status = widgets.HTML()
        self._jobs = Background(self._status)
        self._service = widgets.Dropdown(options=[], description="Service", style=wide, layout=widgets.Layout(width="360px"))
        self._service.observe(self._on_service, names="value")
        self._input = widgets.Textarea(
            value="", placeholder='{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}', layout=widgets.Layout(width="100%", height="90px")
        )
        self._duration = widgets.BoundedFloatText(value=20, min=2, max=3600, step=1, description="Duration (s)", style=wide)
        self._concurrency = widgets.Text(value="1, 2, 4", description="Concurrency", style=wide)
        self._run = widgets.Button(description="Run", icon="tachometer", button_style="primary")
        self._cancel = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self._run.on_click(lambda _: self.run())
        self._cancel.on_click(lambda _: self.profile.cancel() if self.profile is not None else None)
        self._progress = widgets.FloatProgress(value=0, min=0, max=1, layout=widgets.Layout(width="360px"))
        self._phase = widgets.HTML()
        self._result = widgets.HTML()
        self._plot = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", display="none"))
        settings = widgets.VBox(
            [
                bar([title("Profile"), self._service]),
                widgets.HTML("<span class='mlnb-muted'>Sample request (JSON), sent by every load worker</span>"),
                self._input,
                bar([self._duration, self._concurrency]),
                bar([self._run, self._cancel, self._progress]),
                self._phase,
                self._status,
            ]
        )
        super().__init__([stylesheet(), settings, self._result, self._plot])
        panel(self)
        self.refresh_services(select=service)

    def refresh_services(self, *, select: str | None = None) -> None:
        """Read the list of services again; select ``select`` when given."""
        names = [s.name for s in Webservice.list(self.workspace)]
        keep = select if select in names else self._service.value
        self._service.options = names
        self._service.value = keep if keep in names else (names[0] if names else None)

    def configure(self, *, duration_s: float | None = None, concurrency: str | None = None, input_data: str | None = None) -> ProfilePanel:
        """Fill the settings from code; returns the panel."""
        if duration_s is not None:
            self._duration.value = duration_s
        if concurrency is not None:
            self._concurrency.value = concurrency
        if input_data is not None:
            self._input.value = input_data
        return self

    @property
    def busy(self) -> bool:
        """Whether a profile is running."""
        return self._jobs.busy

    @property
    def error(self) -> BaseException | None:
        """Why the last run failed, if it did."""
        return self._jobs.last_error

    @property
    def plot_png(self) -> bytes:
        """The last plot, as PNG bytes (empty before a run succeeded)."""
        return bytes(self._plot.value)

    def service_healthy(self, name: str) -> None:
        """Fetch the swagger example again if ``name`` is selected and no sample is filled in:
        a service chosen while it was starting had no example to give.
        """
        if self._service.value == name and not self._input.value.strip():
            self._fill_example(name)

    def _on_service(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._fill_example(change["new"])

    def _fill_example(self, name: str) -> None:
        def work() -> None:
            example = swagger_example(Webservice(self.workspace, name))
            if example is not None:
                self._input.value = json.dumps(json.loads(example))

        self._jobs.run(work, buttons=[self._run], name="mlnb-profile-example")

    def run(self) -> bool:
        """Profile the selected service, in the background (what *Run* does).

        Returns:
            Whether the run started (not while another runs).
        """
        name, text = self._service.value, self._input.value
        duration, levels = self._duration.value, self._concurrency.value
        self._result.value = ""
        self._plot.layout.display = "none"
        self._progress.value = 0
        self._progress.bar_style = ""
        return self._jobs.run(lambda: self._profile(name, text, duration, levels), buttons=[self._run], name="mlnb-profile")

    def _profile(self, name: str | None, text: str, duration: float, levels: str) -> None:
        if not name:
            raise InvalidConfiguration("no service selected: deploy one first")
        try:
            json.loads(text)
        except ValueError as error:
            raise InvalidConfiguration(f"the sample request is not valid JSON: {error}") from None
        profile = profile_service(Webservice(self.workspace, name), [text], duration_s=duration, concurrency=parse_levels(levels))
        self.profile = profile
        self._cancel.disabled = False
        started = time.monotonic()
        try:
            while True:
                try:
                    profile.wait_for_profiling(True, timeout_sec=_CHECK_SECONDS, out=_LastLine(self._phase))
                    break
                except TimeoutError:
                    self._progress.value = min(1.0, (time.monotonic() - started) / duration)
        except Exception:
            self._progress.bar_style = "danger"
            raise
        finally:
            self._cancel.disabled = True
        if profile.state != "Succeeded":
            self._phase.value = f"<span class='mlnb-muted'>profile {html.escape(profile.state.lower())}</span>"
            return
        self._progress.value = 1.0
        self._progress.bar_style = "success"
        self._result.value = recommendation_html(profile)
        figure = profile.plot()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        self._plot.value = buffer.getvalue()
        self._plot.layout.display = ""

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running profile (tests and scripts)."""
        self._jobs.join(timeout)


def parse_levels(text: str) -> list[int]:
    """``"1, 2, 4"`` as ``[1, 2, 4]``.

    Raises:
        InvalidConfiguration: for anything but positive integers separated by commas.
    """
    try:
        levels = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        raise InvalidConfiguration(f"concurrency is positive integers separated by commas, e.g. 1, 2, 4 (not {text!r})")
    return levels


def recommendation_html(profile: ModelProfile) -> str:
    """The recommendation, how it was derived, and the per-level table."""
    details = profile.get_details()
    recommendation, derivation = details["recommendation"], details["derivation"]
    levels = profile.levels[["concurrency", "requests_per_s", "p50_ms", "p90_ms", "p99_ms", "errors", "cpu_cores", "peak_memory_gb"]]
    table = levels.round(2).to_html(index=False, classes="mlnb-table", border=0)
    return (
        f"<div class='mlnb-title'>Recommended: cpu {recommendation['cpu']:.1f} cores, memory {recommendation['memoryInGB']:.1f} GB</div>"
        f"<div class='mlnb-muted'>memory: {html.escape(derivation['memory'])}</div>"
        f"<div class='mlnb-muted'>cpu: {html.escape(derivation['cpu'])}</div>{table}"
    )
