"""Service links on a remote Jupyter go through jupyter-server-proxy (mlnb/_links.py).

The rewriting is checked with JupyterHub's variable and, end to end, with a real Jupyter
server (jupyter-server-proxy enabled) that started "this kernel": a request to the link
it produces reaches a real process service through the server's proxy.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb._links import browser_link, jupyter_base_url
from mlnb.widgets import ServicesPanel
from mlnb.widgets.deploy import _uris_html


@pytest.fixture()
def outside_jupyter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)


def test_links_are_unchanged_outside_a_jupyter_server(outside_jupyter: None) -> None:
    assert jupyter_base_url() is None
    assert browser_link("http://127.0.0.1:8890/score") == "http://127.0.0.1:8890/score"


def test_under_jupyterhub_links_go_through_its_proxy(outside_jupyter: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada")
    assert browser_link("http://127.0.0.1:8890/score") == "/user/ada/proxy/8890/score"
    assert browser_link("http://127.0.0.1:8890/swagger.json?version=3") == "/user/ada/proxy/8890/swagger.json?version=3"
    assert browser_link("https://example.com:8443/score") == "https://example.com:8443/score"  # not a local service


@pytest.fixture()
def service(project: tuple[Workspace, Model, Path]) -> Webservice:
    workspace, model, source = project
    service = Model.deploy(workspace, "proxied", [model], InferenceConfig("score.py", source_directory=source),
                           LocalWebservice.deploy_configuration(backend="process"))
    service.wait_for_deployment()
    return service


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def jupyter_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """A Jupyter server with base URL /jp/ (no token); its process, URL and runtime folder."""
    runtime, port = tmp_path / "runtime", _free_port()
    environment = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.base_url=/jp/",
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={tmp_path}"],
        env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not list(runtime.glob("jpserver-*.json")) or not _answers(f"{url}/jp/api/status"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Jupyter server did not start:\n{(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield server, url, runtime
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


def test_a_kernel_under_a_jupyter_server_links_through_its_proxy(
    outside_jupyter: None, service: Webservice, jupyter_server: tuple[subprocess.Popen[bytes], str, Path],
    seed_payload: dict[str, list[list[int]]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, url, runtime = jupyter_server
    # What a kernel started by that server sees: the server is its parent, its runtime folder is shared.
    monkeypatch.setenv("JPY_PARENT_PID", str(server.pid))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    link = f"/jp/proxy/{service.port}/score"
    assert browser_link(service.scoring_uri) == link
    # Every place that shows the service's links: its card, the %services table, the dashboard's panels.
    assert f"href='{link}'" in service._repr_html_()
    assert f"href='{link}'" in Webservice.list(service.workspace)._repr_html_()
    assert f"href='{link}'" in _uris_html(service)
    panel = ServicesPanel(service.workspace, refresh_seconds=None)
    try:
        assert any(f"href='{link}'" in getattr(cell, "value", "") for cell in panel._grid.children)
    finally:
        panel.close()
    # The link works: the Jupyter server forwards the request to the service.
    answer = requests.post(f"{url}{link}", data=json.dumps(seed_payload), headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    assert len(answer.json()) == len(seed_payload["data"])
    swagger = requests.get(url + browser_link(service.swagger_uri), timeout=30).json()
    assert re.match(r"2\.", swagger["swagger"])
