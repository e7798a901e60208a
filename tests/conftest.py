"""Shared fixtures: a reachable Docker engine and a base image, or a clear skip.

Where no engine is reachable the Docker tests skip with the reason. CI sets
``MLNB_REQUIRE_DOCKER=1`` (see ``.ci/run``), which turns that skip into a failure.

Every image mlnb builds for a test's workspace is removed when the session ends
(:func:`session_images`), so test runs do not pile up images on the engine. Fixtures
leave their workspaces' images to it: removing them earlier takes the dependency stage
(the pip install, about 40 s to build) out of the build cache that the next module's
images would reuse.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Literal, NoReturn

import docker
import pytest
import requests

from mlnb import Model, Webservice, Workspace
from mlnb.deploy.backends import FakeBackend, register_backend, unregister_backend
from mlnb.errors import NotInSwarm

REQUIRE_DOCKER = "MLNB_REQUIRE_DOCKER"
DEFAULT_BASE_IMAGE = "python:3.11-slim"


def connect_docker(environ: Mapping[str, str]) -> tuple[docker.DockerClient | None, str]:
    """Connect to the engine that ``environ`` (``DOCKER_HOST``, ...) points at.

    Args:
        environ: The environment to read Docker's variables from.

    Returns:
        ``(client, "")`` when the engine answers a ping, else ``(None, reason)``.
    """
    try:
        client = docker.from_env(environment=dict(environ), timeout=30)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return client, ""


def unavailable_outcome(environ: Mapping[str, str]) -> Literal["skip", "fail"]:
    """Whether a missing engine or image skips the test or fails it."""
    return "fail" if environ.get(REQUIRE_DOCKER) == "1" else "skip"


def docker_unavailable(message: str, environ: Mapping[str, str]) -> NoReturn:
    """Skip the current test with ``message``, or fail it when Docker is required.

    Raises:
        pytest.skip.Exception: By default.
        pytest.fail.Exception: When ``MLNB_REQUIRE_DOCKER=1``.
    """
    if unavailable_outcome(environ) == "fail":
        pytest.fail(f"{message} ({REQUIRE_DOCKER}=1 requires Docker)", pytrace=False)
    pytest.skip(message)


def _image_present(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


_REMOVED_IMAGES = pytest.StashKey[int]()


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private ``XDG_STATE_HOME`` for the session: the per-user index of workspaces with
    services (``Webservice.list_everywhere``) is written there, not in the user's home.
    Subprocesses (the CLI, kernels) inherit it."""
    folder = tmp_path_factory.mktemp("state-home")
    old = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = old


@pytest.fixture(scope="session", autouse=True)
def session_images(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[None]:
    """At the end of the session, remove the images mlnb built for this session's workspaces.

    Only images that were not on the engine when the session started, that carry mlnb's
    ``mlnb.workspace`` label, and whose workspace lies in this session's temporary folder:
    another session running on the same engine keeps its images.
    """
    client, _ = connect_docker(os.environ)
    if client is None:
        yield
        return
    before = {image["Id"] for image in client.api.images(all=True)}
    yield
    ours = str(tmp_path_factory.getbasetemp()) + os.sep
    removed = 0
    for image in client.api.images(filters={"label": "mlnb.workspace"}):
        if image["Id"] in before or not image["Labels"]["mlnb.workspace"].startswith(ours):
            continue
        try:
            client.api.remove_image(image["Id"], force=True)
            removed += 1
        except docker.errors.APIError:
            pass  # gone already, or a container still uses it (the CI run names those)
    pytestconfig.stash[_REMOVED_IMAGES] = removed
    client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Say how many images built for the session's workspaces were left for the session's end."""
    if config.stash.get(_REMOVED_IMAGES, 0):
        terminalreporter.write_line(f"mlnb: removed {config.stash[_REMOVED_IMAGES]} image(s) built for this session's workspaces")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client for the engine the environment points at."""
    client, reason = connect_docker(os.environ)
    if client is None:
        docker_unavailable(f"no Docker engine reachable: {reason}", os.environ)
    yield client
    client.close()


@pytest.fixture()
def fake() -> Iterator[FakeBackend]:
    """A :class:`FakeBackend` registered as ``"fake"`` for one test.

    Request it before ``project``: it is torn down last, after the project has deleted
    its services on it.
    """
    backend = FakeBackend()
    register_backend("fake", lambda: backend)
    yield backend
    unregister_backend("fake")


@pytest.fixture(scope="module")
def single_node_swarm(docker_client: docker.DockerClient) -> Iterator[NotInSwarm | None]:
    """The engine as a Swarm manager for a module; yields mlnb's refusal from before, or None.

    An engine in no swarm is made a single-node one (mlnb's refusal to do that unasked is
    yielded, for the test of that message) and leaves it at the module's end; an engine
    already in a swarm is left as it was (and None is yielded).
    """
    from mlnb.deploy.backends._swarm import ensure_swarm

    if docker_client.info()["Swarm"]["LocalNodeState"] == "active":
        yield None
        return
    try:
        ensure_swarm(docker_client, init=False)
        raise AssertionError("ensure_swarm(init=False) accepted an engine in no swarm")
    except NotInSwarm as refusal:
        ensure_swarm(docker_client, init=True, log=lambda line: None)
        try:
            yield refusal
        finally:
            docker_client.swarm.leave(force=True)


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """The image deployments build on: ``$MLNB_BASE_IMAGE``, present locally."""
    name = os.environ.get("MLNB_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    if not _image_present(docker_client, name):
        docker_unavailable(
            f"base image {name!r} is not present locally: "
            "run `.ci/base-image` and export MLNB_BASE_IMAGE to what it prints",
            os.environ,
        )
    return name


# -- deployments ---------------------------------------------------------------------

_SEED_SCORE_SCRIPT = '''\
import json
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global model
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_regression_model.pkl")
    model = joblib.load(model_path)


input_sample = np.array([[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]])
output_sample = np.array([3726.995])


@input_schema("data", NumpyParameterType(input_sample))
@output_schema(NumpyParameterType(output_sample))
def run(data):
    result = model.predict(data)
    return result.tolist()
'''


@pytest.fixture(scope="session")
def seed_score_script() -> str:
    """The seed's scikit-learn entry script (with ``import joblib``: ``sklearn.externals`` is gone)."""
    return _SEED_SCORE_SCRIPT



@pytest.fixture()
def seed_payload() -> dict[str, list[list[int]]]:
    """The seed's two-row test request."""
    return {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}


@pytest.fixture(scope="session")
def diabetes_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ridge regression trained on scikit-learn's diabetes data set, saved with joblib."""
    from mlnb.demo import train_diabetes_model

    return train_diabetes_model(tmp_path_factory.mktemp("model") / "sklearn_regression_model.pkl")


def make_project(folder: Path, model_file: Path, score_script: str) -> Iterator[tuple[Workspace, Model, Path]]:
    """Yield a workspace in ``folder`` with the model registered and ``src/score.py``; then
    delete every service deployed in it. For fixtures of any scope.
    """
    workspace = Workspace.create(folder)
    model = Model.register(workspace, model_file, "sklearn_regression_model", model_framework=Model.Framework.SCIKITLEARN)
    source = folder / "src"
    source.mkdir()
    (source / "score.py").write_text(score_script)
    yield workspace, model, source
    for service in Webservice.list(workspace):
        service.delete()


@pytest.fixture(scope="session")
def project_maker() -> Callable[[Path, Path, str], Iterator[tuple[Workspace, Model, Path]]]:
    """:func:`make_project`, for fixtures in other folders (which cannot import this module)."""
    return make_project


@pytest.fixture()
def project(tmp_path: Path, diabetes_model_file: Path, seed_score_script: str) -> Iterator[tuple[Workspace, Model, Path]]:
    """A workspace with the diabetes model registered and the seed's score.py in ``src/``.

    Every service deployed in the workspace is deleted afterwards.
    """
    yield from make_project(tmp_path, diabetes_model_file, seed_score_script)
