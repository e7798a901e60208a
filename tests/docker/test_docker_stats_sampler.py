"""The Docker stats sampler against a real engine: the expected ends of its stream stay
quiet, a broken stream reaches the reader.

To break the stream for real, the sampler talks to the engine through a TCP proxy in
front of the engine's socket, and the test drops the proxy's connections mid-stream, as
an engine restart or a lost connection would.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container

from mlnb.deploy.backends._sampling import DockerStatsSampler
from mlnb.errors import ProfileFailed

pytestmark = pytest.mark.docker

FIRST_READING_S = 15.0


class EngineProxy:
    """Forwards TCP connections on 127.0.0.1 to the engine's unix socket, until dropped."""

    def __init__(self, socket_path: str) -> None:
        self._socket_path = socket_path
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="engine-proxy", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(self._socket_path)
            with self._lock:
                self._open += [client, engine]
            for source, target in ((client, engine), (engine, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass

    def drop(self) -> None:
        """Cut every connection and stop listening."""
        self._listener.close()
        with self._lock:
            for connection in self._open:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()


def _engine_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"the proxy forwards to a local unix socket; DOCKER_HOST is {host}")
    return host.removeprefix("unix://")


@pytest.fixture()
def container(docker_client: docker.DockerClient, base_image: str) -> Iterator[Container]:
    created = docker_client.containers.run(base_image, ["sleep", "300"], name=f"mlnb-test-stats-{uuid.uuid4().hex[:12]}", detach=True)
    yield created
    try:
        created.remove(force=True)
    except docker.errors.NotFound:
        pass


def _first_reading(sampler: DockerStatsSampler) -> None:
    deadline = time.monotonic() + FIRST_READING_S
    while sampler.read() is None:
        assert time.monotonic() < deadline, f"no stats reading within {FIRST_READING_S:g} s"
        time.sleep(0.1)


def test_a_broken_stats_stream_reaches_the_reader(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = EngineProxy(_engine_socket())
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{proxy.port}")
    sampler = DockerStatsSampler(container)
    try:
        _first_reading(sampler)
        proxy.drop()
        deadline = time.monotonic() + 10
        with pytest.raises(ProfileFailed, match="stats stream .* failed"):
            while time.monotonic() < deadline:
                sampler.read()
                time.sleep(0.1)
    finally:
        sampler.close()


def test_a_removed_container_or_close_ends_the_stream_quietly(container: Container, docker_client: docker.DockerClient, base_image: str) -> None:
    sampler = DockerStatsSampler(container)
    _first_reading(sampler)
    container.remove(force=True)
    deadline = time.monotonic() + 10
    while sampler._thread.is_alive():
        assert time.monotonic() < deadline, "the stats stream did not end when its container went"
        time.sleep(0.1)
    assert sampler.read() is None
    sampler.close()

    other = docker_client.containers.run(base_image, ["sleep", "300"], name=f"mlnb-test-stats-{uuid.uuid4().hex[:12]}", detach=True)
    try:
        closing = DockerStatsSampler(other)
        _first_reading(closing)
        closing.close()
        closing._thread.join(10)
        assert not closing._thread.is_alive() and closing.read() is None
    finally:
        other.remove(force=True)


def test_a_container_already_gone_is_not_an_error(container: Container) -> None:
    container.remove(force=True)
    sampler = DockerStatsSampler(container)
    sampler._thread.join(10)
    assert not sampler._thread.is_alive() and sampler.read() is None
    sampler.close()
