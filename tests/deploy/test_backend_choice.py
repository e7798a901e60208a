"""``backend="auto"`` with no Docker engine (Binder, a laptop without Docker): one plain sentence."""

from __future__ import annotations

import pytest

from mlnb.deploy import backends


@pytest.fixture()
def no_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(backends, "_INSTANCES", {})  # no Docker backend connected earlier in the session
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    return "unix:///nonexistent/docker.sock"


def test_auto_without_an_engine_says_so_without_docker_pys_error(no_engine: str) -> None:
    backend, how = backends.resolve_backend("auto")
    assert backend.name == "process"
    assert how == f"no Docker engine here: using local processes (DOCKER_HOST={no_engine} does not answer)"

