"""Bearer keys come from a 0600 file (or a read-only secret), never from a command line."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests
from conftest import Server, script

from mlnb.serving._keys import KeysFileError, read_keys_file

# Keys that used to break argparse or hide in it: a leading '-', '--', an '=', and a long one.
AWKWARD_KEYS = ["-dash-first", "--double-dash", "key=with=equals", "L" + secrets.token_urlsafe(3000)]


def keys_file(folder: Path, keys: list[str], mode: int = 0o600) -> Path:
    path = folder / f"keys-{uuid.uuid4().hex}"
    path.write_text("".join(f"{key}\n" for key in keys))
    path.chmod(mode)
    return path


def run_server(runtime_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the server to completion (it is expected to refuse to start)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "MLNB_", "AML_"))}
    return subprocess.run([sys.executable, "-m", "mlnb.serving", "--entry-script", script("raw.py"), *args],
                          check=False, capture_output=True, text=True, timeout=60, cwd=runtime_dir,
                          env={**environ, "PYTHONPATH": str(runtime_dir), **(env or {})})


@pytest.fixture(scope="module")
def awkward(launch: object, tmp_path_factory: pytest.TempPathFactory, front: tuple[str, ...]) -> Server:
    path = keys_file(tmp_path_factory.mktemp("keys"), AWKWARD_KEYS)
    return launch(["--entry-script", script("raw.py"), "--workers", "2", "--auth-keys-file", str(path), *front])  # type: ignore[operator]


@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=["dash", "double-dash", "equals", "long"])
def test_every_key_in_the_file_is_accepted(awkward: Server, key: str) -> None:
    response = requests.post(awkward.score_url, data="x", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text


def test_wrong_or_missing_key_is_401(awkward: Server) -> None:
    for headers in ({}, {"Authorization": "Bearer -dash-firs"}, {"Authorization": "Bearer key=with"}):
        response = requests.post(awkward.score_url, data="x", headers=headers)
        assert response.status_code == 401, headers
        assert "message" in response.json()


def test_no_key_in_any_process_command_line_or_environment(awkward: Server) -> None:
    requests.post(awkward.score_url, data="x", headers={"Authorization": f"Bearer {AWKWARD_KEYS[0]}"})
    server = psutil.Process(awkward.proc.pid)
    processes = [server, *server.children(recursive=True)]
    assert len(processes) >= 3  # the supervisor and its two workers
    for process in processes:
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        for key in AWKWARD_KEYS:
            assert key.encode() not in cmdline, (process.pid, key[:20])
            assert key.encode() not in environ, (process.pid, key[:20])


def test_keys_file_from_the_environment(launch: object, tmp_path: Path) -> None:
    path = keys_file(tmp_path, ["env-primary", "env-secondary"])
    server = launch(["--entry-script", script("raw.py")], env={"MLNB_AUTH_KEYS_FILE": str(path)})  # type: ignore[operator]
    for key in ("env-primary", "env-secondary"):
        assert requests.post(server.score_url, data="x", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert requests.post(server.score_url, data="x").status_code == 401


def test_auth_key_flag_is_refused_with_the_way_out(runtime_dir: Path) -> None:
    for args in (["--auth-key", "secret"], ["--auth-key=secret"]):
        result = run_server(runtime_dir, *args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "--auth-keys-file" in lines[0]
        assert "secret" not in result.stderr


@pytest.mark.parametrize(("mode", "owner", "expected"), [
    (0o640, None, "chmod 600"),
    (0o604, None, "chmod 600"),
    (0o600, 65534, "belongs to uid 65534"),
])
def test_unsafe_keys_file_is_refused(runtime_dir: Path, tmp_path: Path, mode: int, owner: int | None,
                                     expected: str) -> None:
    path = keys_file(tmp_path, ["k1"], mode)
    if owner is not None:
        if os.geteuid() != 0:
            pytest.skip("changing a file's owner needs root")
        os.chown(path, owner, -1)
    result = run_server(runtime_dir, "--auth-keys-file", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


@pytest.mark.parametrize(("content", "expected"), [("", "holds no key"), ("\n  \n", "holds no key"),
                                                    ("two words\n", "whitespace inside")])
def test_empty_or_malformed_keys_file_is_refused(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "keys"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeysFileError, match=expected):
        read_keys_file(str(path))
    with pytest.raises(KeysFileError, match="does not exist"):
        read_keys_file(str(tmp_path / "absent"))


@pytest.fixture
def run_secret() -> Iterator[Path]:
    """A root-owned, mode 0444 file under /run/secrets/, as Docker and Swarm mount secrets."""
    if os.geteuid() != 0:
        pytest.skip("writing under /run/secrets needs root")
    folder = Path("/run/secrets")
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mlnb-test-{uuid.uuid4().hex}"
    path.write_text("secret-primary\nsecret-secondary\n")
    path.chmod(0o444)
    os.chown(path, 0, 0)
    yield path
    path.unlink()
    if created:
        folder.rmdir()


def test_read_only_secret_under_run_secrets_is_accepted(launch: object, run_secret: Path) -> None:
    server = launch(["--entry-script", script("raw.py"), "--auth-keys-file", str(run_secret)])  # type: ignore[operator]
    response = requests.post(server.score_url, data="x", headers={"Authorization": "Bearer secret-secondary"})
    assert response.status_code == 200


def test_secrets_rule_outside_the_current_user(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    path = keys_file(secrets_dir, ["s1"], 0o444)
    assert read_keys_file(str(path), secrets_dir=f"{secrets_dir}/") == ("s1",)
    path.chmod(0o666)
    with pytest.raises(KeysFileError, match="mount the secret read-only"):
        read_keys_file(str(path), secrets_dir=f"{secrets_dir}/")
    path.chmod(0o444)
    with pytest.raises(KeysFileError, match="chmod 600"):  # the same file elsewhere is too open
        read_keys_file(str(path))


def test_a_request_without_a_key_is_refused_before_its_body(awkward: Server) -> None:
    # Its body is never waited for, nor held: the 401 comes while the client still "sends" it.
    parts = urlsplit(awkward.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\nx")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401"), answer
