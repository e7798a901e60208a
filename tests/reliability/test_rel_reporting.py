"""Handles report honestly: an unreachable Docker engine is the state ``Unknown`` with the
reason; repr, listings and logs never raise."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlnb import Model, Webservice, Workspace
from mlnb.deploy import STATES
from mlnb.deploy import _records as records


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def unreachable(project: tuple[Workspace, Model, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A workspace with a service recorded on the Docker backend, and DOCKER_HOST at a closed port."""
    from mlnb.deploy import backends

    workspace, _, _ = project
    folder = workspace.path / "services" / "dockered"
    folder.mkdir(parents=True)
    log = folder / "deploy.log"
    log.write_text("[mlnb] deploying 'dockered': sklearn_regression_model:1; backend: docker\n")
    runtime = {"container": "mlnb-00000000-dockered", "image": "mlnb/dockered:00000000", "log": str(log), "memory_gb": None}
    records.save(workspace, records.ServiceRecord(name="dockered", backend="docker", port=_closed_port(),
                                                  spec={"models": ["sklearn_regression_model:1"]}, runtime=runtime,
                                                  state="Healthy"))
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{_closed_port()}")
    monkeypatch.setattr(backends, "_INSTANCES", {})
    yield workspace
    records.remove(workspace, "dockered")


def test_an_unreachable_engine_is_the_state_unknown(unreachable: Workspace) -> None:
    assert "Unknown" in STATES
    service = Webservice(unreachable, "dockered")
    assert service.state == "Unknown"
    assert service.error is not None and service.error.startswith("the docker engine is unreachable, so the state is unknown")
    assert "dockered" in repr(service)
    html = service._repr_html_()
    assert "Unknown" in html and "unreachable" in html
    assert records.load(unreachable, "dockered").state == "Healthy", "an unreachable engine is not a failure of the service"


def test_listing_and_logs_with_an_unreachable_engine(unreachable: Workspace) -> None:
    listing = Webservice.list(unreachable)
    assert [s.name for s in listing] == ["dockered"]
    assert "Unknown" in listing._repr_html_()
    assert listing.to_dataframe()["state"].tolist() == ["Unknown"]
    logs = Webservice(unreachable, "dockered").get_logs()
    assert logs.startswith("[mlnb] deploying 'dockered'")
    assert logs.splitlines()[-1].startswith("[mlnb] the docker engine is unreachable, so only the deployment log")


def test_the_services_panel_opens_with_an_unreachable_engine(unreachable: Workspace) -> None:
    from mlnb.widgets import ServicesPanel

    panel = ServicesPanel(unreachable, refresh_seconds=None)
    assert panel.states == {"dockered": "Unknown"}

