"""``RequestPanel``: send test requests to a service and keep their history."""

from __future__ import annotations

import datetime as _dt
import html
import http.client
import json
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import requests

from mlnb.client import ScoreResult, score
from mlnb.deploy import Webservice
from mlnb.errors import InvalidConfiguration
from mlnb.registry import Workspace
from mlnb.widgets._background import Background
from mlnb.widgets._style import bar, panel, stylesheet, title

_FALLBACK_PAYLOAD = '{\n  "data": []\n}'
_SHOWN_CHARACTERS = 4000


@dataclass(frozen=True)
class SentRequest:
    """One request the panel sent.

    Attributes:
        service: the service name.
        payload: the JSON text sent.
        result: what came back.
        sent_at: when it was sent (local time).
    """

    service: str
    payload: str
    result: ScoreResult
    sent_at: _dt.datetime


def swagger_example(service: Webservice, *, timeout: float = 5.0) -> str | None:
    """The example input of the service's swagger document, as indented JSON, if it has one.

    A service that is not answering has no example to offer: that gives ``None`` too.
    """
    try:
        document = requests.get(service.swagger_uri, timeout=timeout).json()
    except (requests.RequestException, ValueError):
        return None
    schemas = document.get("definitions") or document.get("components", {}).get("schemas", {})
    example = schemas.get("ServiceInput", {}).get("example")
    return json.dumps(example, indent=2) if example is not None else None


class RequestPanel(widgets.VBox):
    """A payload editor, *Send*, the answer (status, latency, body) and a history.

    Choosing a service fills the payload with its swagger example (from the entry
    script's ``input_schema``); choosing a past request shows it again.

    Args:
        workspace: the workspace whose services to test.
        service: the service to select at first.
    """

    def __init__(self, workspace: Workspace, *, service: str | None = None) -> None:
        self.workspace = workspace
        self._history: list[SentRequest] = []
        self._status = widgets.HTML()
        self._jobs = Background(self._status)
        self._service = widgets.Dropdown(options=[], description="Service", layout=widgets.Layout(width="320px"))
        self._service.observe(self._on_service, names="value")
        self._example = widgets.Button(description="Example", icon="magic", tooltip="Fill in the swagger example again")
        self._example.on_click(lambda _: self._fill_example())
        # Full width with no side margin: ipywidgets' default margin would push a 100% box out of the panel.
        self._payload = widgets.Textarea(value=_FALLBACK_PAYLOAD, layout=widgets.Layout(width="100%", height="160px", margin="2px 0"))
        self._send_button = widgets.Button(description="Send", icon="paper-plane", button_style="primary")
        self._send_button.on_click(lambda _: self.send_request())
        self._answer = widgets.HTML("<span class='mlnb-muted'>no request sent yet</span>")
        self._past = widgets.Select(options=[], rows=6, layout=widgets.Layout(width="100%", margin="2px 0"))
        self._past.add_class("mlnb-list")
        self._past.observe(self._on_past, names="value")
        left = widgets.VBox(
            [title("Payload"), self._payload, bar([self._send_button, self._example]), self._status, title("Response"), self._answer],
            layout=widgets.Layout(flex="1 1 50%", min_width="0", margin="0 16px 0 0"),
        )
        right = widgets.VBox([title("History"), self._past], layout=widgets.Layout(flex="1 1 40%", min_width="0"))
        super().__init__([stylesheet(), bar([title("Test requests"), self._service]), widgets.HBox([left, right])])
        panel(self)
        self.add_class("mlnb-request")  # a stable hook for browser tests
        self.refresh_services(select=service)

    @property
    def history(self) -> list[SentRequest]:
        """The requests sent, oldest first."""
        return list(self._history)

    @property
    def payload(self) -> str:
        """The payload in the editor."""
        return str(self._payload.value)

    @payload.setter
    def payload(self, text: str) -> None:
        self._payload.value = text

    @property
    def service(self) -> str | None:
        """The selected service's name."""
        name: str | None = self._service.value
        return name

    def refresh_services(self, *, select: str | None = None) -> None:
        """Read the list of services again; select ``select`` when given."""
        names = [s.name for s in Webservice.list(self.workspace)]
        keep = select if select in names else self._service.value
        self._service.options = names
        self._service.value = keep if keep in names else (names[0] if names else None)

    def service_healthy(self, name: str) -> None:
        """Fetch the swagger example again if ``name`` is selected and the editor still holds
        the placeholder: a service chosen while it was starting had no example to give.
        """
        if self._service.value == name and self._payload.value == _FALLBACK_PAYLOAD:
            self._fill_example()

    def _on_service(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._fill_example()

    def _fill_example(self) -> None:
        name = self._service.value
        if not name:
            return

        def work() -> None:
            self._payload.value = swagger_example(Webservice(self.workspace, name)) or _FALLBACK_PAYLOAD

        self._jobs.run(work, buttons=[self._send_button, self._example], name="mlnb-swagger")

    def send_request(self) -> bool:
        """Send the payload to the selected service, in the background (what *Send* does).

        Returns:
            Whether the request started (not while another runs).
        """
        name, text = self._service.value, self._payload.value

        def work() -> None:
            if not name:
                raise InvalidConfiguration("no service selected: deploy one first")
            try:
                json.loads(text)
            except ValueError as error:
                raise InvalidConfiguration(f"the payload is not valid JSON: {error}") from None
            result = score(Webservice(self.workspace, name), text)
            sent = SentRequest(name, text, result, _dt.datetime.now())
            self._history.append(sent)
            self._show(sent)
            self._past.options = [(_label(s), index) for index, s in reversed(list(enumerate(self._history)))]

        return self._jobs.run(work, buttons=[self._send_button, self._example], name="mlnb-send")

    def _on_past(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        sent = self._history[change["new"]]
        self._payload.value = sent.payload
        self._show(sent)

    def _show(self, sent: SentRequest) -> None:
        self._answer.value = result_html(sent.result)

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running request (tests and scripts)."""
        self._jobs.join(timeout)


def result_html(result: ScoreResult) -> str:
    """Status, latency, request id and the body of one answer."""
    kind = "ok" if result.ok else "error"
    reason = http.client.responses.get(result.status, "")
    run = f" &middot; run() {result.run_ms:.1f} ms" if result.run_ms is not None else ""
    shown = _pretty(result.body)
    if len(shown) > _SHOWN_CHARACTERS:
        shown = shown[:_SHOWN_CHARACTERS] + f"\n… ({len(shown) - _SHOWN_CHARACTERS} more characters)"
    return (
        f"<div><span class='mlnb-{kind}'>{result.status} {html.escape(reason)}</span> "
        f"&middot; {result.latency_ms:.1f} ms{run} "
        f"&middot; <span class='mlnb-muted'>request id</span> <span class='mlnb-mono'>{html.escape(result.request_id)}</span></div>"
        f"<pre class='mlnb-mono' style='max-height:16em;overflow:auto;background:#f8fafc;padding:6px;border-radius:4px'>"
        f"{html.escape(shown)}</pre>"
    )


def _pretty(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body, indent=2)


def _label(sent: SentRequest) -> str:
    payload = " ".join(sent.payload.split())
    payload = payload if len(payload) <= 48 else payload[:47] + "…"
    text = f"{sent.sent_at:%H:%M:%S}  {sent.result.status}  {sent.result.latency_ms:7.1f} ms  {sent.service}  {payload}"
    # Non-breaking spaces keep the columns in a browser's <option>.
    return text.replace(" ", "\u00a0")
