"""`%deploy --backend swarm --replicas N` and `%scale NAME N` through a real InteractiveShell.

The fake backend, registered under the Swarm backend's name, records what the magic
passed on; the Swarm backend itself is tested against the engine in tests/docker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from mlnb import Model, Webservice, Workspace
from mlnb.deploy.backends import FakeBackend, register_backend, unregister_backend


class SwarmDouble(FakeBackend):
    """The fake backend under the Swarm backend's name."""

    name = "swarm"


@pytest.fixture()
def swarm_double() -> Iterator[FakeBackend]:
    backend = SwarmDouble()
    register_backend("swarm", lambda: backend)
    yield backend
    unregister_backend("swarm")


@pytest.fixture()
def shell(swarm_double: FakeBackend, project: tuple[Workspace, Model, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    workspace, _, source = project
    monkeypatch.chdir(source)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "mlnb")
    ip.magics_manager.registry["MlnbMagics"].workspace = str(workspace.path.parent)
    yield ip
    ip.run_line_magic("unload_ext", "mlnb")


def test_deploy_to_swarm_with_replicas_then_scale(shell: InteractiveShell, swarm_double: FakeBackend,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    service = shell.run_line_magic(
        "deploy", "scaled --model sklearn_regression_model --entry-script score.py --backend swarm --replicas 3 --endpoint-mode dnsrr"
    )
    config = swarm_double.services["scaled"].deployment.config
    assert (config.replicas, config.endpoint_mode, config.auth_enabled) == (3, "dnsrr", True)
    assert service.replicas == (3, 3)

    scaled = shell.run_line_magic("scale", "scaled 1")

    assert isinstance(scaled, Webservice) and scaled.replicas == (1, 1)
    assert "scaled: asked Swarm for 1 replica(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("magic", "line", "message"),
    [
        ("deploy", "svc --model sklearn_regression_model --entry-script score.py --backend nosuch",
         r'^invalid value for backend, expected "auto", "docker", "process", "swarm" \(not \'nosuch\'\)$'),
        ("deploy", "svc --model sklearn_regression_model --entry-script score.py --backend process --replicas 2", "swarm"),
        ("scale", "ghost 2", r"^no service named 'ghost' \(%services lists them\)$"),
        ("scale", "ghost two", "invalid int value"),
    ],
)
def test_mistakes_are_one_line(shell: InteractiveShell, magic: str, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as error:
        shell.run_line_magic(magic, line)
    assert "\n" not in str(error.value)


def test_scale_refuses_a_single_copy_backend(shell: InteractiveShell) -> None:
    shell.run_line_magic("deploy", "single --model sklearn_regression_model --entry-script score.py --backend process --no-wait")
    with pytest.raises(UsageError, match="runs on the process backend, one copy; deploy it with backend='swarm' to scale"):
        shell.run_line_magic("scale", "single 2")
