"""The per-user index of workspaces that hold services, so services can be found across workspaces.

Services outlive the kernel (and the notebook) that deployed them. A workspace's records
find its own services; to find every service on the machine (``%services --all``,
``mlnb service list --all``) mlnb notes each workspace that records a service in a small
owner-only folder: ``$XDG_STATE_HOME/mlnb/workspaces`` (``~/.local/state/mlnb/workspaces``
when the variable is unset), one file per workspace, named by a hash of its path and
holding the path. An entry whose workspace is gone, or holds no service any more, is
pruned when the index is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from mlnb.registry import open_private, private_dir


def index_dir() -> Path:
    """The folder of the index (it may not exist yet)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "mlnb" / "workspaces"


def _entry(workspace_path: Path) -> Path:
    return index_dir() / hashlib.sha256(str(workspace_path).encode()).hexdigest()[:24]


def note(workspace_path: Path) -> None:
    """Remember that the workspace at ``workspace_path`` (its ``.mlnb`` folder) holds a service."""
    entry = _entry(workspace_path)
    if entry.is_file():
        return
    private_dir(index_dir().parent)
    private_dir(index_dir())
    with open_private(entry) as handle:
        handle.write(str(workspace_path).encode())


def forget(workspace_path: Path) -> None:
    """Drop the workspace from the index (a no-op when it is not there)."""
    _entry(workspace_path).unlink(missing_ok=True)


def noted_workspaces() -> list[Path]:
    """The workspaces in the index whose folder still holds a workspace; the others are pruned."""
    found: list[Path] = []
    folder = index_dir()
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            path = Path(entry.read_text(encoding="utf-8"))
            if (path / "registry.db").is_file():
                found.append(path)
            else:
                entry.unlink(missing_ok=True)
    return found
