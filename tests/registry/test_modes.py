"""Workspace files are owner-only: folders 0700, files 0600, blobs 0400, whatever the umask.

The registry database holds service keys and environment variable values, so another user
of the machine must not be able to read it, nor anything else in ``.mlnb``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.registry import open_private, private_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """umask 000: modes must come from mlnb, not from a cautious umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture()
def shared_folder() -> Iterator[Path]:
    """A folder other users can reach (pytest's tmp_path is root's own, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="mlnb-modes-", dir="/tmp"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), user="nobody", capture_output=True, text=True, errors="replace", check=False, timeout=30
    )


def assert_unreadable_by_others(*paths: Path) -> None:
    """Another user can neither list the workspace nor read these files."""
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    for path in paths:
        result = _as_nobody("cat", str(path))
        assert result.returncode != 0 and "Permission denied" in result.stderr, (path, result)


def test_a_new_workspace_is_owner_only(shared_folder: Path) -> None:
    ws = Workspace.create(shared_folder / "project")
    assert mode(shared_folder / "project") == 0o777  # the project folder is the user's, under their umask
    assert mode(ws.path) == 0o700
    for sub in ("blobs", "blobs/tmp", "checkouts", "cache", "services"):
        assert mode(ws.path / sub) == 0o700, sub
    assert mode(ws.path / "registry.db") == 0o600
    with ws.write() as db:
        db.execute("INSERT INTO model_names VALUES ('x', 0)")
        assert mode(ws.path / "lock") == 0o600
        for suffix in ("-wal", "-shm"):
            assert mode(ws.path / f"registry.db{suffix}") == 0o600, suffix
    assert_unreadable_by_others(ws.path / "registry.db")


def test_registered_files_are_owner_only(shared_folder: Path) -> None:
    ws = Workspace.create(shared_folder / "project")
    (shared_folder / "outputs" / "sub").mkdir(parents=True)
    (shared_folder / "outputs" / "sub" / "model.pkl").write_bytes(b"weights")
    model = Model.register(ws, shared_folder / "outputs", "m")
    blobs = [p for p in (ws.path / "blobs").rglob("*") if p.is_file()]
    assert blobs and all(mode(p) == 0o400 for p in blobs)
    assert all(mode(p) == 0o700 for p in (ws.path / "blobs").rglob("*") if p.is_dir())
    checkout = Path(model.checkout())
    assert mode(checkout / "sub" / "model.pkl") == 0o400
    folders = [checkout, checkout / "sub", *checkout.parents]
    assert all(mode(p) == 0o700 for p in folders if p.is_relative_to(ws.path)), [oct(mode(p)) for p in folders]
    assert_unreadable_by_others(blobs[0], checkout / "sub" / "model.pkl")
    # A download is the user's own file again: writable, under their umask.
    assert mode(Path(model.download(shared_folder / "restored")) / "sub" / "model.pkl") == 0o666


def test_a_process_deployment_leaves_nothing_readable(
    shared_folder: Path,
    diabetes_model_file: Path,
    seed_score_script: str,
    project_maker: Callable[[Path, Path, str], Iterator[tuple[Workspace, Model, Path]]],
) -> None:
    project = project_maker(shared_folder, diabetes_model_file, seed_score_script)
    ws, model, source = next(project)
    try:
        config = LocalWebservice.deploy_configuration(
            backend="process", auth_enabled=True, environment_variables={"DB_PASSWORD": "hunter2"}
        )
        service = Model.deploy(ws, "modesvc", [model], InferenceConfig("score.py", source_directory=source), config)
        service.wait_for_deployment(timeout_sec=120)
        primary, _ = service.get_keys()
        with sqlite3.connect(ws.path / "registry.db") as db:
            stored = " ".join(str(row) for row in db.execute("SELECT spec, keys FROM services"))
        assert primary in stored and "hunter2" in stored  # what makes the database a secret
        assert mode(ws.path) == 0o700
        assert mode(ws.path / "services") == 0o700
        assert mode(ws.path / "registry.db") == 0o600
        log = ws.path / "services" / "modesvc" / "deploy.log"
        assert log.is_file()
        assert_unreadable_by_others(ws.path / "registry.db", log)
        listing = _as_nobody("ls", str(ws.path))
        assert listing.returncode != 0 and "Permission denied" in listing.stderr
    finally:
        for service in Webservice.list(ws):
            service.delete()


def _loosen(root: Path) -> None:
    """Give a workspace the modes the earlier mlnb left: 0755 folders, 0644 files, 0444 blobs."""
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = Path(folder) / name
            os.chmod(path, 0o444 if "blobs" in path.parts or "checkouts" in path.parts else 0o644)


OPENERS = {
    "from_config": lambda project: Workspace.from_config(project),
    "create": lambda project: Workspace.create(project),
    "Workspace(path)": lambda project: Workspace(project / ".mlnb"),
}


@pytest.mark.parametrize("opener", list(OPENERS))
def test_an_old_world_readable_workspace_is_fixed_when_opened(shared_folder: Path, opener: str) -> None:
    ws = Workspace.create(shared_folder / "project")
    (shared_folder / "model.pkl").write_bytes(b"weights")
    model = Model.register(ws, shared_folder / "model.pkl", "m")
    model.checkout()
    log = ws.path / "services" / "old" / "deploy.log"
    log.parent.mkdir()
    log.write_text("a secret printed by init()\n")
    context = ws.path / "cache" / "context" / "models" / "model.pkl"
    context.parent.mkdir(parents=True)
    context.write_text("a build context: its modes are the image's")
    _loosen(ws.path)
    if os.geteuid() == 0:
        assert _as_nobody("cat", str(ws.path / "registry.db")).returncode == 0  # the hole being fixed

    OPENERS[opener](shared_folder / "project")

    assert mode(ws.path) == 0o700
    for sub in ("blobs", "checkouts", "cache", "services"):
        assert mode(ws.path / sub) == 0o700, sub
    assert mode(ws.path / "registry.db") == 0o600
    assert mode(ws.path / "lock") == 0o600
    assert mode(log) == 0o600
    for path in (ws.path / "blobs").rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o400), path
    for path in (ws.path / "checkouts").rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o400), path
    assert mode(context) == 0o644  # unreachable behind .mlnb, and an image's user must read it
    assert_unreadable_by_others(ws.path / "registry.db", log)


def test_a_fixed_workspace_is_not_walked_again(shared_folder: Path) -> None:
    """The fix runs once: .mlnb's own mode is the marker, so opening stays one stat."""
    ws = Workspace.create(shared_folder / "project")
    stray = ws.path / "services" / "stray.txt"
    stray.write_text("")
    os.chmod(stray, 0o644)
    Workspace(ws.path)
    assert mode(stray) == 0o644


def test_private_helpers_for_other_layers(shared_folder: Path) -> None:
    folder = private_dir(shared_folder / "a")
    assert mode(folder) == 0o700
    with open_private(folder / "keys") as handle:
        handle.write(b"one")
    with open_private(folder / "keys", append=True) as handle:
        handle.write(b"two")
    assert (folder / "keys").read_bytes() == b"onetwo" and mode(folder / "keys") == 0o600
    os.chmod(folder / "keys", 0o644)
    os.chmod(folder, 0o755)
    with open_private(private_dir(folder) / "keys") as handle:
        handle.write(b"three")
    assert mode(folder) == 0o700 and mode(folder / "keys") == 0o600 and (folder / "keys").read_bytes() == b"three"
    (folder / "link").symlink_to(folder / "keys")
    with pytest.raises(OSError, match="symbolic links"):
        open_private(folder / "link")
