"""The deploy form's backend list and replicas field, and the services view's replicas column."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlnb import Model, Webservice, Workspace
from mlnb.deploy.backends import FakeBackend, register_backend, unregister_backend
from mlnb.errors import InvalidConfiguration
from mlnb.widgets import DeployPanel, ServicesPanel


class SwarmDouble(FakeBackend):
    """The fake backend under the Swarm backend's name."""

    name = "swarm"


@pytest.fixture()
def swarm_double() -> Iterator[FakeBackend]:
    backend = SwarmDouble()
    register_backend("swarm", lambda: backend)
    yield backend
    unregister_backend("swarm")


def test_the_form_lists_every_backend_including_registered_ones(project: tuple[Workspace, Model, Path]) -> None:
    panel = DeployPanel(project[0])
    assert panel._backend.options == ("auto", "docker", "process", "swarm")
    register_backend("fake", FakeBackend)
    try:
        panel.refresh_models()
        assert panel._backend.options == ("auto", "docker", "process", "swarm", "fake")
    finally:
        unregister_backend("fake")


def test_replicas_reach_swarm_and_the_services_view_shows_them(
    swarm_double: FakeBackend, project: tuple[Workspace, Model, Path]
) -> None:
    workspace, _, source = project
    panel = DeployPanel(workspace).configure(
        name="scaled", entry_script="score.py", source_directory=str(source), backend="swarm", replicas=3
    )
    panel.deploy()
    panel.join(60)
    assert panel.error is None
    assert swarm_double.services["scaled"].deployment.config.replicas == 3

    services = ServicesPanel(workspace, refresh_seconds=None)
    cells = [getattr(cell, "value", "") for cell in services._grid.children]
    assert "<b>replicas</b>" in cells
    assert "<span class='mlnb-replicas'>3/3</span><br><span class='mlnb-replica-states'>running, running, running</span>" in cells
    Webservice(workspace, "scaled").scale(2)
    swarm_double.hang("scaled")
    services.refresh()
    cells = [getattr(cell, "value", "") for cell in services._grid.children]
    assert "<span class='mlnb-replicas'>0/2</span><br><span class='mlnb-replica-states'>starting, starting</span>" in cells
    services.close()


def test_replicas_without_swarm_are_refused(project: tuple[Workspace, Model, Path]) -> None:
    workspace, _, source = project
    panel = DeployPanel(workspace).configure(
        name="single", entry_script="score.py", source_directory=str(source), backend="process", replicas=2
    )
    panel.deploy()
    panel.join(60)
    assert isinstance(panel.error, InvalidConfiguration)
    assert str(panel.error) == 'replicas needs backend="swarm" (not \'process\'); pass backend="swarm"'
