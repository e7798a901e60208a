from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlnb import Workspace
from mlnb.errors import WorkspaceNotFound
from mlnb.registry import SCHEMA_VERSION


def test_create_is_idempotent(tmp_path: Path) -> None:
    first = Workspace.create(tmp_path)
    second = Workspace.create(tmp_path)
    assert first == second
    assert first.path == tmp_path / ".mlnb"
    assert (first.path / "registry.db").is_file()


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path)
    with sqlite3.connect(ws.path / "registry.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path)
    with sqlite3.connect(ws.path / "registry.db") as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(WorkspaceNotFound, match="upgrade mlnb"):
        Workspace(ws.path)


def test_from_config_finds_a_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    ws = Workspace.create(tmp_path)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert Workspace.from_config(nested) == ws
    monkeypatch.chdir(nested)
    assert Workspace.from_config() == ws


def test_from_config_uses_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.create(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLNB_WORKSPACE", str(tmp_path / "project"))
    assert Workspace.from_config() == ws
    monkeypatch.setenv("MLNB_WORKSPACE", str(ws.path))
    assert Workspace.from_config() == ws
    monkeypatch.setenv("MLNB_WORKSPACE", str(tmp_path / "nowhere"))
    with pytest.raises(WorkspaceNotFound, match="MLNB_WORKSPACE"):
        Workspace.from_config()


def test_from_config_says_how_to_create_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    with pytest.raises(WorkspaceNotFound, match=r"Workspace\.create"):
        Workspace.from_config(tmp_path)


def test_opening_a_plain_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFound):
        Workspace(tmp_path)
