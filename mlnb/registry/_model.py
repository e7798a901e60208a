"""The model registry: register, find, list, download and delete versioned models.

A model is a file or a folder registered under a name; each registration of a name
gets the next version (1, 2, …; numbers are never reused, even after a delete). The
files go to the workspace's content-addressed blob store, the metadata to its SQLite
database, and a registration is atomic: it is visible whole or not at all.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlnb import _html
from mlnb.errors import InvalidConfiguration, InvalidModelName, ModelExists, ModelNotFound
from mlnb.registry._collect import collect
from mlnb.registry._private import DIR_MODE, private_dir, restrict
from mlnb.registry._resources import ResourceConfiguration
from mlnb.registry._workspace import Workspace, check_workspace

if TYPE_CHECKING:
    import sqlite3

    import pandas as pd
    from typing_extensions import Self


# Matched with fullmatch: `$` would also match before a final newline. The classes are
# ASCII ranges (no \d or \w), so lookalike letters and other scripts' digits are refused.
_NAME = r"[a-zA-Z0-9][a-zA-Z0-9\-._]{0,254}"
_NAME_PATTERN = re.compile(_NAME)
_ID_PATTERN = re.compile(rf"(?P<name>{_NAME})(?::(?P<version>[0-9]+))?")


class Framework:
    """Model frameworks, as in Azure's ``Model.Framework``."""

    CUSTOM = "Custom"
    SCIKITLEARN = "ScikitLearn"
    ONNX = "Onnx"
    TENSORFLOW = "TensorFlow"
    TFKERAS = "TfKeras"
    PYTORCH = "Pytorch"
    MULTI = "Multi"

    ALL = (CUSTOM, SCIKITLEARN, ONNX, TENSORFLOW, TFKERAS, PYTORCH, MULTI)

    @classmethod
    def normalize(cls, value: str) -> str:
        """Return the canonical spelling of a framework name, matched case-insensitively.

        Raises:
            InvalidConfiguration: when the name is not a known framework.
        """
        for known in cls.ALL:
            if value.lower() == known.lower():
                return known
        raise InvalidConfiguration(
            f"unknown model framework {value!r}; expected one of {', '.join(cls.ALL)}"
        )


def parse_model_id(model_id: str) -> tuple[str, int | None]:
    """Split ``"name:version"`` (or a bare ``"name"``) into its parts.

    Raises:
        InvalidModelName: when the text is not of that form.
    """
    match = _ID_PATTERN.fullmatch(model_id) if isinstance(model_id, str) else None
    if not match:
        raise InvalidModelName(
            f"invalid model id {model_id!r}; expected NAME or NAME:VERSION, e.g. diabetes:3, where NAME is "
            "1-255 letters, digits, '-', '.' or '_', starting with a letter or digit"
        )
    version = match["version"]
    return match["name"], int(version) if version else None


def validate_name(name: str) -> str:
    """Return ``name`` if the registry accepts it.

    Raises:
        InvalidModelName: with the rule, when it does not.
    """
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise InvalidModelName(
            f"invalid model name {name!r}: use 1-255 letters, digits, '-', '.' or '_', "
            "starting with a letter or digit"
        )
    return name


class Model:
    """A registered model version.

    ``Model(ws, "name")`` is the latest version; ``Model(ws, "name", version=2)`` a given
    one; ``Model(ws, id="name:2")`` the same by id.

    Args:
        workspace: the workspace holding the model.
        name: the registered name.
        id: ``"name:version"``, instead of ``name`` and ``version``.
        version: the version (default: the latest).

    Raises:
        ModelNotFound: when no such model or version is registered.
    """

    Framework = Framework

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        *,
        id: str | None = None,  # noqa: A002 - Azure's parameter name
        version: int | None = None,
    ) -> None:
        check_workspace(workspace)
        if id is not None:
            if name is not None:
                raise InvalidConfiguration("pass either name (with version) or id, not both")
            name, version = parse_model_id(id)
        if name is None:
            raise InvalidConfiguration("a model needs a name, e.g. Model(ws, 'diabetes')")
        with workspace.connect() as db:
            row = _fetch_row(db, name, version)
        self._load(workspace, row)

    @classmethod
    def _from_row(cls, workspace: Workspace, row: sqlite3.Row) -> Self:
        model = cls.__new__(cls)
        model._load(workspace, row)
        return model

    def _load(self, workspace: Workspace, row: sqlite3.Row) -> None:
        self.workspace = workspace
        self.name: str = row["name"]
        self.version: int = row["version"]
        self.artifact_name: str = row["artifact_name"]
        self.is_folder: bool = bool(row["is_folder"])
        self.digest: str = row["digest"]
        self.size: int = row["size"]
        self.description: str | None = row["description"]
        self.model_framework: str | None = row["framework"]
        self.model_framework_version: str | None = row["framework_version"]
        resources = row["resource_configuration"]
        self.resource_configuration: ResourceConfiguration | None = (
            ResourceConfiguration.deserialize(json.loads(resources)) if resources else None
        )
        self.tags: dict[str, str] = json.loads(row["tags"])
        self.properties: dict[str, str] = json.loads(row["properties"])
        self.created_time: _dt.datetime = _dt.datetime.fromisoformat(row["created_time"])

    @property
    def id(self) -> str:
        """``"name:version"``."""
        return f"{self.name}:{self.version}"

    # -- registration ------------------------------------------------------------------

    @classmethod
    def register(
        cls,
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        resource_configuration: ResourceConfiguration | None = None,
    ) -> Self:
        """Register a file or a folder as the next version of ``model_name``.

        Files are hashed and copied in one pass, then the version appears atomically:
        an interrupted registration leaves no version behind. Symlinks follow the rule in
        ``docs/registry.md``: a linked ``model_path`` keeps the link's name; inside a folder,
        links that stay inside are registered as what they point to, others are refused.

        Args:
            workspace: where to register.
            model_path: a file, or a folder whose structure is kept.
            model_name: the name; versions increase per name from 1.
            tags: free-form key/value labels (can be changed later).
            properties: key/value facts (can be added later, never changed).
            description: a sentence or two about the model.
            model_framework: one of ``Model.Framework``'s constants.
            model_framework_version: the framework's version; needs ``model_framework``.
            resource_configuration: the CPU and memory the model needs.

        Returns:
            The new model version.

        Raises:
            InvalidModelName: for a name the registry does not accept.
            InvalidConfiguration: for a missing path, a symlink the rule refuses, or a framework
                version without a framework.

        Example:
            >>> model = Model.register(ws, "outputs/model.pkl", "diabetes", tags={"area": "diabetes"})
            >>> model.id
            'diabetes:1'
        """
        check_workspace(workspace)
        validate_name(model_name)
        source = Path(model_path).expanduser()
        if model_framework_version is not None and model_framework is None:
            raise InvalidConfiguration(
                "model_framework_version was given without model_framework; pass model_framework=Model.Framework.…"
            )
        framework = Framework.normalize(model_framework) if model_framework is not None else None
        if resource_configuration is not None and not isinstance(resource_configuration, ResourceConfiguration):
            raise InvalidConfiguration("resource_configuration must be a ResourceConfiguration(cpu=..., memory_in_gb=...)")
        collected = collect(source, workspace_path=workspace.path)
        staged: list[tuple[str, str, int, Path]] = []
        try:
            for relpath, path in collected.files:
                digest, size, tmp = workspace.blobs.ingest(path)
                staged.append((relpath, digest, size, tmp))
            manifest = hashlib.sha256(
                "\n".join(f"{rel}\0{digest}" for rel, digest, _, _ in staged).encode()
            ).hexdigest()
            with workspace.write() as db:
                row = db.execute("SELECT last_version FROM model_names WHERE name = ?", (model_name,)).fetchone()
                version = (row["last_version"] if row else 0) + 1
                db.execute(
                    "INSERT INTO model_names (name, last_version) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version",
                    (model_name, version),
                )
                db.execute(
                    "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        model_name,
                        version,
                        collected.artifact_name,
                        int(collected.is_folder),
                        manifest,
                        sum(size for _, _, size, _ in staged),
                        description,
                        framework,
                        model_framework_version,
                        json.dumps(resource_configuration.serialize()) if resource_configuration else None,
                        json.dumps(_stringify(tags, "tags")),
                        json.dumps(_stringify(properties, "properties")),
                        _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    ),
                )
                db.executemany(
                    "INSERT INTO model_files VALUES (?, ?, ?, ?, ?)",
                    [(model_name, version, rel, digest, size) for rel, digest, size, _ in staged],
                )
                for _, digest, _, tmp in staged:
                    workspace.blobs.commit(digest, tmp)
                saved = _fetch_row(db, model_name, version)
        finally:
            for _, _, _, tmp in staged:
                workspace.blobs.discard(tmp)
        return cls._from_row(workspace, saved)

    # -- queries -----------------------------------------------------------------------

    @classmethod
    def list(
        cls,
        workspace: Workspace,
        name: str | None = None,
        tags: Sequence[str | Sequence[str]] | Mapping[str, str] | None = None,
        properties: Sequence[str | Sequence[str]] | Mapping[str, str] | None = None,
        latest: bool = False,
    ) -> ModelList:
        """List registered models, newest first within each name.

        Args:
            workspace: the workspace to list.
            name: only this name.
            tags: keep models that have every listed tag: a key, a ``[key, value]`` pair,
                or a dict of key/value pairs.
            properties: the same filter, over properties.
            latest: only the latest version of each name.

        Returns:
            A list of models that also renders as a table (and ``.to_dataframe()``).
        """
        check_workspace(workspace)
        query = "SELECT * FROM models"
        params: tuple[Any, ...] = ()
        if name is not None:
            query += " WHERE name = ?"
            params = (name,)
        query += " ORDER BY name, version DESC"
        with workspace.connect() as db:
            rows = db.execute(query, params).fetchall()
        tag_filter = _parse_filter(tags, "tags")
        property_filter = _parse_filter(properties, "properties")
        models = ModelList()
        seen: set[str] = set()
        for row in rows:
            if latest and row["name"] in seen:
                continue
            seen.add(row["name"])
            model = cls._from_row(workspace, row)
            if _matches(model.tags, tag_filter) and _matches(model.properties, property_filter):
                models.append(model)
        return models

    @staticmethod
    def get_model_path(
        model_name: str, version: int | None = None, _workspace: Workspace | None = None
    ) -> str:
        """Return the local path of a model's file (or folder, for a folder model).

        Inside a service (``AZUREML_MODEL_DIR`` or ``MLNB_MODEL_DIR`` set) this resolves in the
        deployed model folder, as Azure's ``Model.get_model_path`` did; elsewhere it checks
        the registered version out of the workspace (read-only) and returns its path.

        Args:
            model_name: the registered name.
            version: the version (default: the latest).
            _workspace: the workspace (default: ``Workspace.from_config()``).

        Raises:
            ModelNotFound: when there is no such model.
        """
        if _workspace is None and (os.environ.get("AZUREML_MODEL_DIR") or os.environ.get("MLNB_MODEL_DIR")):
            from mlnb.serving.model_path import get_model_path as get_served_model_path

            return get_served_model_path(model_name, version)
        workspace = Workspace.from_config() if _workspace is None else check_workspace(_workspace)
        return str(Model(workspace, model_name, version=version).checkout())

    # -- files -------------------------------------------------------------------------

    def files(self) -> builtins.list[tuple[str, str, int]]:
        """The model's files as ``(relative path, digest, size)``, sorted by path."""
        with self.workspace.connect() as db:
            rows = db.execute(
                "SELECT relpath, digest, size FROM model_files WHERE name = ? AND version = ? ORDER BY relpath",
                (self.name, self.version),
            ).fetchall()
        return [(row["relpath"], row["digest"], row["size"]) for row in rows]

    def materialize(self, target_dir: str | os.PathLike[str], *, writable: bool = False) -> Path:
        """Write the model's file or folder into ``target_dir`` under its registered name.

        Args:
            target_dir: an existing or new folder.
            writable: independent, writable copies; otherwise read-only hard links where
                possible (instant, and safe because the blob store is read-only).

        Returns:
            The path of the written file or folder (``target_dir / artifact_name``).
        """
        target = Path(target_dir) / self.artifact_name
        for relpath, digest, _ in self.files():
            destination = target / relpath if self.is_folder else target
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.workspace.blobs.place(digest, destination, writable=writable)
        if self.is_folder:
            target.mkdir(parents=True, exist_ok=True)  # an empty registered folder stays a folder
        return target

    def checkout(self) -> Path:
        """Return a read-only copy of the model inside the workspace, making it on first use."""
        folder = self.workspace.path / "checkouts" / self.name / str(self.version)
        if not folder.is_dir():
            private_dir(folder.parent)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))  # 0700
            try:
                for subfolder, _, _ in os.walk(self.materialize(staging)):  # nothing for a file
                    restrict(Path(subfolder), DIR_MODE)
                try:
                    os.rename(staging, folder)
                except OSError:
                    if not folder.is_dir():  # not a lost race with another checkout
                        raise
            finally:
                if staging.exists():
                    shutil.rmtree(staging)
        return folder / self.artifact_name

    def download(self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False) -> str:
        """Copy the model's file or folder into ``target_dir``.

        Args:
            target_dir: the folder to write into (created when missing).
            exist_ok: replace what is already there instead of raising.

        Returns:
            The path of the downloaded file or folder.

        Raises:
            ModelExists: when the target already exists and ``exist_ok`` is false.
            InvalidConfiguration: when ``target_dir`` is a file or cannot be created.
        """
        target_dir = Path(target_dir).expanduser()
        if target_dir.exists() and not target_dir.is_dir():
            raise InvalidConfiguration(
                f"target_dir {str(target_dir)!r} is a file, not a folder; pass the folder to download into"
            )
        target = target_dir / self.artifact_name
        if target.exists() or target.is_symlink():
            if not exist_ok:
                raise ModelExists(f"{target} already exists; pass exist_ok=True to replace it")
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidConfiguration(
                f"cannot create target_dir {str(target_dir)!r}: a part of that path is a file; pass a folder"
            ) from None
        except PermissionError:
            raise InvalidConfiguration(
                f"cannot create target_dir {str(target_dir)!r}: permission denied; pass a folder you can write to"
            ) from None
        staging = Path(tempfile.mkdtemp(prefix=f".{self.artifact_name}.", dir=target_dir))
        try:
            written = self.materialize(staging, writable=True)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.rename(written, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return str(target)

    # -- updates -----------------------------------------------------------------------

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        """Add or change tags."""
        self._set_json("tags", {**self.tags, **_stringify(tags, "tags")})

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove the tags with these keys (missing keys are ignored)."""
        keys = set(tags)
        self._set_json("tags", {k: v for k, v in self.tags.items() if k not in keys})

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add properties; an existing property cannot be changed.

        Raises:
            InvalidConfiguration: when a key exists with another value.
        """
        new = _stringify(properties, "properties")
        for key, value in new.items():
            if key in self.properties and self.properties[key] != value:
                raise InvalidConfiguration(
                    f"property {key!r} is already {self.properties[key]!r}; properties cannot be "
                    "changed, use a tag for values that change"
                )
        self._set_json("properties", {**self.properties, **new})

    def update(self, *, tags: Mapping[str, Any] | None = None, description: str | None = None) -> None:
        """Replace the tags and/or the description."""
        if tags is not None:
            self._set_json("tags", _stringify(tags, "tags"))
        if description is not None:
            with self.workspace.write() as db:
                self._update(db, "description", description)
            self.description = description

    def _set_json(self, column: str, value: dict[str, str]) -> None:
        with self.workspace.write() as db:
            self._update(db, column, json.dumps(value))
        setattr(self, column, value)

    def _update(self, db: sqlite3.Connection, column: str, value: str) -> None:
        cursor = db.execute(
            f"UPDATE models SET {column} = ? WHERE name = ? AND version = ?",  # column is ours, not user input
            (value, self.name, self.version),
        )
        if cursor.rowcount == 0:
            raise ModelNotFound(f"model {self.id} was deleted")

    def delete(self) -> None:
        """Delete this version and the files no other version shares.

        Raises:
            ModelNotFound: when it was already deleted.
        """
        with self.workspace.write() as db:
            digests = {
                row["digest"]
                for row in db.execute(
                    "SELECT digest FROM model_files WHERE name = ? AND version = ?", (self.name, self.version)
                )
            }
            if db.execute("DELETE FROM models WHERE name = ? AND version = ?", (self.name, self.version)).rowcount == 0:
                raise ModelNotFound(f"model {self.id} is not registered (already deleted?)")
            still_used = {
                row["digest"]
                for row in db.execute(
                    f"SELECT DISTINCT digest FROM model_files WHERE digest IN ({','.join('?' * len(digests))})",
                    tuple(digests),
                )
            }
            db.execute("COMMIT")
            # The lock is still held: no registration can reuse these blobs until it is released.
            for digest in digests - still_used:
                self.workspace.blobs.remove(digest)
        shutil.rmtree(self.workspace.path / "checkouts" / self.name / str(self.version), ignore_errors=True)

    # -- display -----------------------------------------------------------------------

    def serialize(self) -> dict[str, Any]:
        """The model's metadata as a JSON-ready dict."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "artifact": self.artifact_name,
            "isFolder": self.is_folder,
            "size": self.size,
            "digest": self.digest,
            "description": self.description,
            "framework": self.model_framework,
            "frameworkVersion": self.model_framework_version,
            "resourceConfiguration": self.resource_configuration.serialize() if self.resource_configuration else None,
            "tags": self.tags,
            "properties": self.properties,
            "createdTime": self.created_time.isoformat(),
        }

    def __repr__(self) -> str:
        return (
            f"Model(workspace={self.workspace!r}, name={self.name!r}, id={self.id!r}, "
            f"version={self.version}, tags={self.tags!r}, properties={self.properties!r})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and (other.workspace, other.id) == (self.workspace, self.id)

    def __hash__(self) -> int:
        return hash((self.workspace, self.id))

    def _repr_html_(self) -> str:
        rows = [
            ("id", self.id),
            ("artifact", f"{self.artifact_name}{'/' if self.is_folder else ''} ({format_size(self.size)})"),
            ("framework", " ".join(filter(None, [self.model_framework, self.model_framework_version])) or "—"),
            ("description", self.description or "—"),
            ("tags", _format_pairs(self.tags)),
            ("properties", _format_pairs(self.properties)),
            (
                "resources",
                _format_pairs(self.resource_configuration.serialize()) if self.resource_configuration else "—",
            ),
            ("registered", self.created_time.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ]
        return _html.card(f"Model {self.id}", rows)


class ModelList(list[Model]):
    """A list of models that shows itself as a table in a notebook."""

    _COLUMNS = ("name", "version", "framework", "size", "tags", "description", "created")

    def to_dataframe(self) -> pd.DataFrame:
        """The models as a pandas DataFrame, one row per version."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "name": m.name,
                    "version": m.version,
                    "framework": m.model_framework,
                    "size": m.size,
                    "tags": m.tags,
                    "description": m.description,
                    "created": m.created_time,
                }
                for m in self
            ],
            columns=list(self._COLUMNS),
        )

    def _repr_html_(self) -> str:
        rows = (
            (m.name, m.version, m.model_framework or "", format_size(m.size), _format_pairs(m.tags), m.description or "",
             m.created_time.strftime("%Y-%m-%d %H:%M"))
            for m in self
        )
        return _html.table(self._COLUMNS, rows, empty="no models registered")


def format_size(size: int) -> str:
    """A byte count for people: ``1.5 MB``."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _fetch_row(db: sqlite3.Connection, name: str, version: int | None) -> sqlite3.Row:
    if version is None:
        row = db.execute("SELECT * FROM models WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)).fetchone()
    else:
        row = db.execute("SELECT * FROM models WHERE name = ? AND version = ?", (name, int(version))).fetchone()
    if row is None:
        known = [r[0] for r in db.execute("SELECT version FROM models WHERE name = ? ORDER BY version", (name,))]
        if known:
            raise ModelNotFound(
                f"model {name!r} has no version {version}; registered versions: {', '.join(map(str, known))}"
            )
        raise ModelNotFound(f"no model named {name!r} is registered; see Model.list(ws) or `mlnb model list`")
    found: sqlite3.Row = row
    return found


def _stringify(values: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidConfiguration(f"{what} must be a dict of key/value pairs, e.g. {{'area': 'diabetes'}}")
    return {str(k): str(v) for k, v in values.items()}


def _parse_filter(
    spec: Sequence[str | Sequence[str]] | Mapping[str, str] | None, what: str
) -> list[tuple[str, str | None]]:
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        return [(str(k), str(v)) for k, v in spec.items()]
    if isinstance(spec, str):
        return [(spec, None)]
    parsed: list[tuple[str, str | None]] = []
    for item in spec:
        if isinstance(item, str):
            parsed.append((item, None))
        elif len(item) == 2:
            parsed.append((str(item[0]), str(item[1])))
        else:
            raise InvalidConfiguration(f"{what} filter entries must be 'key' or ['key', 'value'], not {item!r}")
    return parsed


def _matches(values: Mapping[str, str], wanted: list[tuple[str, str | None]]) -> bool:
    return all(key in values and (value is None or values[key] == value) for key, value in wanted)


def _format_pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "—"

