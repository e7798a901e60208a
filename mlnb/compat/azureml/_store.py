"""What the Azure layer remembers in a workspace: small JSON records under ``.mlnb/azureml/``.

Layout (every folder 0700, every file 0600: a record may hold keys or connection details)::

    .mlnb/azureml/
        workspace.json                       the Azure identity the workspace stands for
        environments/<name>/<version>.json   Environment.register
        datasets/<name>/<version>.json       TabularDataset/FileDataset.register
        services/<name>.json                 the Azure class and settings of a deployed service
        lock                                 serialises version numbering

Versions are whole numbers from 1, per name. Files are written whole (a temporary file,
then a rename), so a reader never sees half a record.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

from mlnb.errors import InvalidConfiguration
from mlnb.registry import Workspace

__all__ = ["Store"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class Store:
    """The Azure layer's records in one workspace.

    Args:
        workspace: the mlnb workspace to keep them in.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.root = workspace.path / "azureml"

    def read(self, *parts: str) -> dict[str, Any] | None:
        """The record at ``parts`` (``.json`` added), or ``None`` when there is none."""
        path = self._path(*parts)
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data

    def write(self, record: dict[str, Any], *parts: str) -> None:
        """Write ``record`` at ``parts``, owner-only, replacing what was there."""
        path = self._path(*parts)
        _private_dirs(self.root, path.parent)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(record, out, indent=2, sort_keys=True)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def remove(self, *parts: str) -> None:
        """Delete the record at ``parts``; a no-op when there is none."""
        with contextlib.suppress(FileNotFoundError):
            self._path(*parts).unlink()

    def names(self, kind: str) -> list[str]:
        """The names with at least one version under ``kind``, sorted."""
        folder = self.root / kind
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.json")))

    def versions(self, kind: str, name: str) -> list[int]:
        """The versions recorded for ``kind/name``, ascending."""
        folder = self.root / kind / _checked(name)
        return sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()) if folder.is_dir() else []

    def latest(self, kind: str, name: str) -> dict[str, Any] | None:
        """The highest version of ``kind/name``, or ``None``."""
        versions = self.versions(kind, name)
        return self.read(kind, name, str(versions[-1])) if versions else None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the layer's lock (for read-modify-write of versions)."""
        _private_dirs(self.root, self.root)
        with FileLock(str(self.root / "lock")):
            yield

    def add_version(self, kind: str, name: str, record: dict[str, Any]) -> int:
        """Record ``record`` as the next version of ``kind/name`` and return its number.

        When the latest version holds the same record (ignoring ``version``), that version is
        returned and nothing is written, as Azure does for an unchanged environment.
        """
        with self.locked():
            versions = self.versions(kind, name)
            if versions:
                latest = self.read(kind, name, str(versions[-1])) or {}
                if {**latest, "version": None} == {**record, "version": None}:
                    return versions[-1]
            version = versions[-1] + 1 if versions else 1
            self.write({**record, "version": str(version)}, kind, name, str(version))
            return version

    def _path(self, *parts: str) -> Path:
        *folders, leaf = (_checked(part) for part in parts)
        return self.root.joinpath(*folders, leaf + ".json")


def _checked(part: str) -> str:
    if not isinstance(part, str) or not _NAME.fullmatch(part):
        raise InvalidConfiguration(f"invalid name {part!r}: use letters, digits, '.', '_' or '-', starting with a letter or digit")
    return part


def _private_dirs(root: Path, folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (folder, *folder.parents):
        if not path.is_relative_to(root):
            break
        os.chmod(path, 0o700)
