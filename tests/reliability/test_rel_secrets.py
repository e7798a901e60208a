"""Secrets never reach a command line: keys go to the server in an owner-only file, any key
works (even one that starts with '-'), and a key change does not take the service down."""

from __future__ import annotations

import itertools
import json
import secrets
import stat
from pathlib import Path

import psutil
import pytest
import requests
from rel_traffic import RequestLoop

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace

ROW = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]
BODY = json.dumps({"data": ROW}).encode()
# Keys that an argument parser takes for options: about 3 % of token_urlsafe(32) keys start with '-'.
DASHED = ["-" + "a" * 42, "--" + "b" * 41, "-" + "c" * 42, "--d" + "e" * 40]


@pytest.fixture()
def dashed_keys(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    supply = itertools.cycle(DASHED)
    monkeypatch.setattr(secrets, "token_urlsafe", lambda nbytes=None: next(supply))
    return DASHED


def _cmdlines(pid: int) -> list[str]:
    leader = psutil.Process(pid)
    return [" ".join(process.cmdline()) for process in [leader, *leader.children(recursive=True)]]


def _environments(pid: int) -> list[str]:
    leader = psutil.Process(pid)
    return [json.dumps(process.environ()) for process in [leader, *leader.children(recursive=True)]]


def test_keys_that_start_with_a_dash_and_stay_off_the_command_line(
    project: tuple[Workspace, Model, Path], dashed_keys: list[str]
) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", auth_enabled=True, workers=2)
    service = Model.deploy(workspace, "dashed", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    primary, secondary = service.get_keys()
    assert (primary, secondary) == (dashed_keys[0], dashed_keys[1])
    for key in (primary, secondary):
        ok = requests.post(service.scoring_uri, data=BODY, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert ok.status_code == 200
    assert requests.post(service.scoring_uri, data=BODY, timeout=10).status_code == 401

    pid = service._record.runtime["pid"]
    processes = _cmdlines(pid)
    assert len(processes) >= 3  # the server and two workers
    for text in processes + _environments(pid) + [Path(f"/proc/{pid}/cmdline").read_bytes().decode()]:
        assert primary not in text and secondary not in text

    keys_files = [path for path in service._record.folder(workspace).rglob("*") if path.is_file() and primary in path.read_text(errors="replace")]
    assert keys_files, "the keys reach the server through a file in the service folder"
    for path in keys_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_regen_key_does_not_take_the_service_down(project: tuple[Workspace, Model, Path], dashed_keys: list[str]) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", auth_enabled=True)
    service = Model.deploy(workspace, "regen", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    old_primary, secondary = service.get_keys()
    # A client on the secondary key is not disturbed while the primary is replaced.
    with RequestLoop(service.port, BODY, headers={"Authorization": f"Bearer {secondary}"}) as loop:
        service.regen_key("Primary")
        assert service.state == "Healthy"
    new_primary = service.get_keys()[0]
    assert new_primary.startswith("-") and new_primary != old_primary
    assert loop.failures == [] and loop.ok > 10
    stale = requests.post(service.scoring_uri, data=BODY, headers={"Authorization": f"Bearer {old_primary}"}, timeout=10)
    assert stale.status_code == 401
    fresh = requests.post(service.scoring_uri, data=BODY, headers={"Authorization": f"Bearer {new_primary}"}, timeout=10)
    assert fresh.status_code == 200
    for text in _cmdlines(service._record.runtime["pid"]):
        assert new_primary not in text


def test_environment_variables_stay_off_the_command_line(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    value = "value-" + "z" * 20
    config = LocalWebservice.deploy_configuration(backend="process", environment_variables={"MY_SETTING": value})
    service = Model.deploy(workspace, "envvars", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    pid = service._record.runtime["pid"]
    assert all(value not in text for text in _cmdlines(pid))
    assert psutil.Process(pid).environ()["MY_SETTING"] == value


def test_what_a_deploy_adds_to_the_workspace_is_owner_only(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", auth_enabled=True)
    service = Model.deploy(workspace, "private", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    # Each top-level folder of the workspace is 0700 itself, so nothing below it depends on
    # the modes its files were copied with (a user's 0644 source files stay 0644 inside).
    for entry in workspace.path.iterdir():
        mode = stat.S_IMODE(entry.lstat().st_mode)
        assert mode & 0o077 == 0, f"{entry} is {mode:o}"
