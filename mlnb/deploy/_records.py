"""Service records: what the workspace remembers about each deployed service.

A record survives the kernel that made it, so ``Webservice(ws, name)`` finds the
service from a fresh kernel or another process.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlnb.deploy import _index as index
from mlnb.errors import InvalidConfiguration, ServiceExists, ServiceNotFound

if TYPE_CHECKING:
    import sqlite3

    from mlnb.registry import Workspace

# Matched with fullmatch: `$` would also match before a final newline.
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]")


def validate_service_name(name: str) -> str:
    """Return ``name`` if it is a valid service name (Azure's rule).

    Raises:
        InvalidConfiguration: with the rule, when it is not.
    """
    if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name):
        raise InvalidConfiguration(
            f"invalid service name {name!r}: use 3-32 lowercase letters, digits or '-', "
            "starting with a letter and ending with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class ServiceRecord:
    """One deployed service as stored in the workspace.

    Attributes:
        name: the service name.
        backend: ``"docker"`` or ``"process"`` (or a test backend's name).
        port: the host port on 127.0.0.1.
        spec: the deployment's specification (models, configs, requirements), JSON-ready.
        runtime: what the backend needs to find its container or process again.
        keys: the primary and secondary keys when auth is enabled.
        state: the last state recorded ("Transitioning", "Healthy", "Failed", …).
        error: why it failed, when it did.
    """

    name: str
    backend: str
    port: int
    spec: dict[str, Any]
    runtime: dict[str, Any] = field(default_factory=dict)
    keys: tuple[str, str] | None = None
    state: str = "Transitioning"
    error: str | None = None
    created_time: str = ""
    updated_time: str = ""

    def folder(self, workspace: Workspace) -> Path:
        """The service's folder in the workspace (staged files, logs)."""
        return workspace.path / "services" / self.name


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _from_row(row: sqlite3.Row) -> ServiceRecord:
    keys = json.loads(row["keys"]) if row["keys"] else None
    return ServiceRecord(
        name=row["name"],
        backend=row["backend"],
        port=row["port"],
        spec=json.loads(row["spec"]),
        runtime=json.loads(row["runtime"]),
        keys=(keys[0], keys[1]) if keys else None,
        state=row["state"],
        error=row["error"],
        created_time=row["created_time"],
        updated_time=row["updated_time"],
    )


def save(workspace: Workspace, record: ServiceRecord) -> ServiceRecord:
    """Insert a new record (the name must not be recorded); returns it with its timestamps set.

    Raises:
        ServiceExists: when a record of that name exists.
    """
    now = _now()
    record = replace(record, created_time=record.created_time or now, updated_time=now)
    with workspace.write() as db:
        if db.execute("SELECT 1 FROM services WHERE name = ?", (record.name,)).fetchone():
            raise ServiceExists(f"a service named {record.name!r} is already recorded; update it, or delete it first")
        db.execute(
            "INSERT INTO services VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.name,
                record.backend,
                record.port,
                json.dumps(record.spec),
                json.dumps(record.runtime),
                json.dumps(list(record.keys)) if record.keys else None,
                record.state,
                record.error,
                record.created_time,
                record.updated_time,
            ),
        )
    with contextlib.suppress(OSError):  # an unwritable home only costs `--all` this workspace
        index.note(workspace.path)
    return record


_COLUMNS = {"backend", "port", "spec", "runtime", "keys", "state", "error"}


def update(workspace: Workspace, name: str, **changes: Any) -> ServiceRecord:
    """Change some fields of a stored record in place and return the new record.

    Only an existing row is changed (``UPDATE ... WHERE name = ?``): a refresh that races a
    delete must not bring the deleted service back.

    Raises:
        ServiceNotFound: when the record is gone (the service was deleted meanwhile);
            nothing was updated.
    """
    unknown = set(changes) - _COLUMNS
    if unknown:
        raise TypeError(f"not a changeable field of a service record: {', '.join(sorted(unknown))}")
    values = {
        column: (json.dumps(list(value)) if value else None) if column == "keys"
        else json.dumps(value) if column in ("spec", "runtime") else value
        for column, value in changes.items()
    }
    values["updated_time"] = _now()
    assignments = ", ".join(f"{column} = ?" for column in values)
    with workspace.write() as db:
        updated = db.execute(f"UPDATE services SET {assignments} WHERE name = ?", (*values.values(), name)).rowcount
        row = db.execute("SELECT * FROM services WHERE name = ?", (name,)).fetchone()
    if not updated or row is None:
        raise ServiceNotFound(f"no service named {name!r} in this workspace (it was deleted meanwhile): nothing was updated")
    return _from_row(row)


def load(workspace: Workspace, name: str) -> ServiceRecord:
    """Return the record of a service.

    Raises:
        ServiceNotFound: when no service of that name is recorded.
    """
    with workspace.connect() as db:
        row = db.execute("SELECT * FROM services WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = [r[0] for r in db.execute("SELECT name FROM services ORDER BY name")]
    if row is None:
        known = f"deployed services: {', '.join(names)}" if names else "no service is deployed"
        raise ServiceNotFound(f"no service named {name!r} in this workspace ({known})")
    return _from_row(row)


def find(workspace: Workspace, name: str) -> ServiceRecord | None:
    """Return the record of a service, or None."""
    with workspace.connect() as db:
        row = db.execute("SELECT * FROM services WHERE name = ?", (name,)).fetchone()
    return _from_row(row) if row else None


def list_all(workspace: Workspace) -> list[ServiceRecord]:
    """Every recorded service, by name."""
    with workspace.connect() as db:
        rows = db.execute("SELECT * FROM services ORDER BY name").fetchall()
    return [_from_row(row) for row in rows]


def used_ports(workspace: Workspace) -> set[int]:
    """Ports held by services of this workspace; a Failed service's process or container is gone."""
    with workspace.connect() as db:
        return {row[0] for row in db.execute("SELECT port FROM services WHERE state != 'Failed'")}


def remove(workspace: Workspace, name: str) -> None:
    """Forget a service (a no-op when it is not recorded)."""
    with workspace.write() as db:
        db.execute("DELETE FROM services WHERE name = ?", (name,))

