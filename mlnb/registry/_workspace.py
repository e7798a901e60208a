"""The workspace: a ``.mlnb`` folder holding the registry database and the blob store.

Layout::

    PROJECT/.mlnb/
        registry.db     SQLite: models, their files, tags and properties (schema-versioned)
        blobs/          content-addressed files (see mlnb.registry._blobstore)
        checkouts/      read-only views of registered models, made on demand
        services/       one folder per deployed service: staged models and source, logs
        cache/          wheelhouses and other things that can be rebuilt
        lock            serialises the few writes that touch both database and blobs

Everything in it is owner-only (see mlnb.registry._private): ``.mlnb`` and its folders
0700, files 0600, blobs 0400. A workspace made by an earlier mlnb, world-readable, is
fixed the first time it is opened.
"""

from __future__ import annotations

import contextlib
import os
import reprlib
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from mlnb import _html
from mlnb.errors import InvalidConfiguration, WorkspaceNotFound
from mlnb.registry._blobstore import BlobStore
from mlnb.registry._private import DIR_MODE, FILE_MODE, READ_ONLY_MODE, open_private, private_dir, restrict

DIRNAME = ".mlnb"
ENV_VAR = "MLNB_WORKSPACE"
SCHEMA_VERSION = 2

# Each entry migrates the schema from version N-1 to N; later issues append to it.
_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE model_names (
        name TEXT PRIMARY KEY,
        last_version INTEGER NOT NULL
    );
    CREATE TABLE models (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        artifact_name TEXT NOT NULL,
        is_folder INTEGER NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        description TEXT,
        framework TEXT,
        framework_version TEXT,
        resource_configuration TEXT,
        tags TEXT NOT NULL,
        properties TEXT NOT NULL,
        created_time TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE model_files (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        relpath TEXT NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (name, version, relpath),
        FOREIGN KEY (name, version) REFERENCES models (name, version) ON DELETE CASCADE
    );
    CREATE INDEX model_files_digest ON model_files (digest);
    """,
    2: """
    CREATE TABLE services (
        name TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        port INTEGER NOT NULL,
        spec TEXT NOT NULL,
        runtime TEXT NOT NULL,
        keys TEXT,
        state TEXT NOT NULL,
        error TEXT,
        created_time TEXT NOT NULL,
        updated_time TEXT NOT NULL
    );
    """,
}


class Workspace:
    """A local workspace: where models are registered and services are recorded.

    Use :meth:`create` or :meth:`from_config` rather than the constructor.

    Args:
        path: the ``.mlnb`` folder itself.

    Raises:
        WorkspaceNotFound: when ``path`` is not an initialised workspace folder.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        if not (self.path / "registry.db").is_file():
            raise WorkspaceNotFound(
                f"{self.path} is not an mlnb workspace; create one with Workspace.create(path=...)"
                " or `mlnb model register` in the project folder."
            )
        _make_owner_only(self.path)
        self.blobs = BlobStore(self.path / "blobs")
        with contextlib.closing(_open_db(self.path / "registry.db")) as db:
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                _migrate(db)

    @property
    def name(self) -> str:
        """The name of the project folder that holds the workspace."""
        return self.path.parent.name

    @property
    def cache_dir(self) -> Path:
        """A folder for rebuildable data (wheelhouses, build contexts)."""
        return self.path / "cache"

    @classmethod
    def create(cls, path: str | os.PathLike[str] = ".") -> Workspace:
        """Create ``PATH/.mlnb`` (or open it when it already exists).

        Args:
            path: the project folder; the workspace goes in its ``.mlnb`` subfolder.

        Returns:
            The workspace.
        """
        project = Path(path).resolve()
        if project.exists() and not project.is_dir():
            raise InvalidConfiguration(f"cannot create a workspace in {str(project)!r}: it is a file; pass a folder")
        root = project / DIRNAME
        if root.is_dir():
            _make_owner_only(root)  # before private_dir sets .mlnb's mode, the fix's marker
        try:
            private_dir(root)
            for sub in ("blobs", "checkouts", "cache", "services"):
                private_dir(root / sub)
        except (FileExistsError, NotADirectoryError):
            raise InvalidConfiguration(
                f"cannot create a workspace in {str(project)!r}: a part of that path is a file; pass a folder"
            ) from None
        except PermissionError:
            raise InvalidConfiguration(
                f"cannot create a workspace in {str(project)!r}: permission denied; pass a folder you can write to"
            ) from None
        # SQLite gives the -wal and -shm files the database's own mode: create it 0600 first.
        open_private(root / "registry.db", append=True).close()
        with contextlib.closing(_open_db(root / "registry.db")) as db:
            _migrate(db)
        return cls(root)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None) -> Workspace:
        """Find the workspace for a folder: ``MLNB_WORKSPACE``, or ``.mlnb`` in it or a parent.

        Args:
            path: where to start looking (default: the current folder). When given, it
                takes precedence over ``MLNB_WORKSPACE``.

        Returns:
            The workspace found.

        Raises:
            WorkspaceNotFound: when there is none; the message says how to create one.
        """
        if path is None and os.environ.get(ENV_VAR):
            candidate = Path(os.environ[ENV_VAR]).expanduser()
            root = candidate if (candidate / "registry.db").is_file() else candidate / DIRNAME
            if not (root / "registry.db").is_file():
                raise WorkspaceNotFound(
                    f"{ENV_VAR}={os.environ[ENV_VAR]} holds no mlnb workspace; "
                    f"create it with Workspace.create(path={str(candidate)!r}) or unset {ENV_VAR}."
                )
            return cls(root)
        start = Path(path if path is not None else ".").resolve()
        for folder in (start, *start.parents):
            if (folder / DIRNAME / "registry.db").is_file():
                return cls(folder / DIRNAME)
        raise WorkspaceNotFound(
            f"no .mlnb workspace in {start} or its parents; "
            f"create one with Workspace.create(path={str(start)!r}) or set {ENV_VAR}."
        )

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """Open the registry database for one unit of work; commits on success."""
        db = _open_db(self.path / "registry.db")
        try:
            with db:
                yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that also holds the workspace lock.

        The lock keeps blob placement and deletion consistent with the rows that refer
        to blobs across processes; the immediate transaction serialises version numbers.
        """
        with FileLock(str(self.path / "lock"), mode=FILE_MODE), self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db

    def __repr__(self) -> str:
        return f"Workspace(path={str(self.path)!r})"

    def _repr_html_(self) -> str:
        return _html.card("Workspace", [("path", _html.code(str(self.path)))])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)


def _make_owner_only(root: Path) -> None:
    """Fix the modes of a workspace an earlier mlnb left world-readable, once.

    ``.mlnb``'s own mode is the marker, set last: a fixed workspace costs one stat to open,
    and an interrupted fix is redone. With ``.mlnb`` at 0700 nothing inside is reachable by
    other users; the files that hold secrets or registry data are also made owner-only.
    Build contexts in ``cache/`` and staged services keep the modes their images need.
    """
    info = os.stat(root)
    if not stat.S_IMODE(info.st_mode) & 0o077 or info.st_uid != os.geteuid():
        return
    for name in ("registry.db", "registry.db-wal", "registry.db-shm", "lock"):
        if (root / name).is_file():
            restrict(root / name, FILE_MODE)
    for tree in ("blobs", "checkouts"):
        for folder, _, files in os.walk(root / tree):
            restrict(Path(folder), DIR_MODE)
            for name in files:
                # Blobs and checkouts (hard links to blobs) are read-only; blobs/tmp holds partial writes.
                restrict(Path(folder) / name, FILE_MODE if Path(folder) == root / "blobs" / "tmp" else READ_ONLY_MODE)
    for sub in ("cache", "services", "locks"):
        if (root / sub).is_dir():
            restrict(root / sub, DIR_MODE)
    for log in (root / "services").glob("*/*.log"):
        restrict(log, FILE_MODE)
    restrict(root, DIR_MODE)


def check_workspace(value: object) -> Workspace:
    """Return ``value`` when it is a :class:`Workspace`.

    Azure notebooks pass the workspace first; a path string there would otherwise fail
    deep inside with an ``AttributeError``.

    Raises:
        InvalidConfiguration: for anything else, naming how to get a workspace.
    """
    if not isinstance(value, Workspace):
        raise InvalidConfiguration(
            "workspace must be a Workspace (Workspace.from_config() or Workspace.create(path)), "
            f"not the {type(value).__name__} {reprlib.repr(value)}"
        )
    return value


def _open_db(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in writes);
    # `with db` still commits or rolls back what was begun.
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def _migrate(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        current = db.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise WorkspaceNotFound(
                f"this workspace uses registry schema {current}, newer than this mlnb "
                f"understands ({SCHEMA_VERSION}); upgrade mlnb."
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[version].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={version}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
