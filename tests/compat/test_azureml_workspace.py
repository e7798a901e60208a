"""``Workspace``: Azure's config.json (both forms) mapped to a local ``.mlnb``, and the identity it keeps."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlnb.errors import InvalidConfiguration, WorkspaceNotFound

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
SCOPE = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/my-resource-group"
         "/providers/Microsoft.MachineLearningServices/workspaces/myworkspace")
OLD_FORM = {"subscription_id": SUBSCRIPTION, "resource_group": "my-resource-group", "workspace_name": "myworkspace"}
NEW_FORM = {"Id": None, "Scope": SCOPE}


@pytest.fixture(autouse=True)
def layer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    from mlnb.compat.azureml._hook import activate, deactivate

    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert activate()
    yield
    deactivate()


@pytest.mark.parametrize("form", [OLD_FORM, NEW_FORM], ids=["subscription_id-keys", "Scope"])
@pytest.mark.parametrize("where", [".azureml/config.json", "config.json", "aml_config/config.json"])
def test_from_config_reads_either_form_and_puts_the_workspace_beside_it(tmp_path: Path, form: dict[str, object],
                                                                       where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from azureml.core import Workspace

    project = tmp_path / "project"
    (project / where).parent.mkdir(parents=True, exist_ok=True)
    (project / where).write_text(json.dumps(form))
    (project / "notebooks").mkdir()
    monkeypatch.chdir(project / "notebooks")  # found from a subfolder, as Azure finds it

    ws = Workspace.from_config()
    assert (ws.name, ws.subscription_id, ws.resource_group, ws.location) == (
        "myworkspace", SUBSCRIPTION, "my-resource-group", "local")
    assert ws.mlnb.path == project / ".mlnb"
    assert repr(ws) == f"Workspace.create(name='myworkspace', subscription_id='{SUBSCRIPTION}', resource_group='my-resource-group')"
    assert Workspace.from_config(path=str(project / where)) == ws  # path may name the file itself


def test_the_seed_pages_custom_config_path(tmp_path: Path) -> None:
    from azureml.core import Workspace

    (tmp_path / ".file-path").mkdir()
    (tmp_path / ".file-path" / "ws_config.json").write_text(json.dumps(OLD_FORM))
    ws = Workspace.from_config(path=".file-path/ws_config.json")
    assert ws.name == "myworkspace" and ws.mlnb.path == tmp_path / ".file-path" / ".mlnb"


def test_without_config_json_an_existing_mlnb_workspace_is_used(tmp_path: Path) -> None:
    from azureml.core import Workspace

    from mlnb import Workspace as LocalWorkspace

    LocalWorkspace.create(tmp_path)
    ws = Workspace.from_config()
    assert ws.mlnb.path == tmp_path / ".mlnb" and ws.name == tmp_path.name and ws.subscription_id == "local"


def test_without_either_the_error_says_what_to_do(tmp_path: Path) -> None:
    from azureml.core import Workspace

    with pytest.raises(WorkspaceNotFound, match=r"config.json .* Workspace.create"):
        Workspace.from_config()


def test_a_broken_config_json_is_named(tmp_path: Path) -> None:
    from azureml.core import Workspace

    (tmp_path / "config.json").write_text(json.dumps({"Scope": "/subscriptions/x"}))
    with pytest.raises(InvalidConfiguration, match="is not /subscriptions/"):
        Workspace.from_config()


def test_write_config_writes_azures_new_form_and_reads_back(tmp_path: Path) -> None:
    from azureml.core import Workspace

    ws = Workspace(SUBSCRIPTION, "my-resource-group", "myworkspace")
    ws.write_config()
    assert json.loads((tmp_path / ".azureml" / "config.json").read_text()) == NEW_FORM
    assert Workspace.from_config() == ws


def test_one_local_workspace_stands_for_one_azure_workspace(tmp_path: Path) -> None:
    from azureml.core import Workspace

    Workspace(SUBSCRIPTION, "my-resource-group", "myworkspace")
    with pytest.raises(InvalidConfiguration, match="stands for Azure workspace 'myworkspace'"):
        Workspace.get("another", subscription_id=SUBSCRIPTION)
    assert Workspace.get("myworkspace").resource_group == "my-resource-group"
    assert list(Workspace.list(SUBSCRIPTION)) == ["myworkspace"] and Workspace.list("other") == {}


def test_create_refuses_an_existing_workspace_without_exist_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from azureml.core import Workspace

    ws = Workspace.create("myworkspace", subscription_id=SUBSCRIPTION, resource_group="rg", location="westeurope")
    assert "Local workspace 'myworkspace' is at" in capsys.readouterr().out
    assert ws.location == "westeurope" and ws.get_details()["id"].endswith("/workspaces/myworkspace")
    with pytest.raises(InvalidConfiguration, match="exist_ok=True"):
        Workspace.create("myworkspace")
    assert Workspace.create("myworkspace", exist_ok=True, show_output=False) == ws


def test_azure_resources_passed_to_create_are_named_in_one_note(tmp_path: Path) -> None:
    from azureml.core import Workspace

    from mlnb.compat.azureml._notes import AzureMLCompatWarning

    with pytest.warns(AzureMLCompatWarning) as notes:
        Workspace.create("myworkspace", storage_account="sa", key_vault="kv", show_output=False)
    assert len(notes) == 1 and "storage_account, key_vault have no local meaning" in str(notes[0].message)
    assert notes[0].filename == __file__  # the note points at the user's line


def test_identity_files_are_owner_only(tmp_path: Path) -> None:
    from azureml.core import Workspace

    Workspace(SUBSCRIPTION, "my-resource-group", "myworkspace")
    record = tmp_path / ".mlnb" / "azureml" / "workspace.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700


def test_deleting_the_workspace_is_refused(tmp_path: Path) -> None:
    from azureml.core import Workspace

    ws = Workspace.create("myworkspace", show_output=False)
    with pytest.raises(InvalidConfiguration, match="remove that folder yourself"):
        ws.delete()
    assert (tmp_path / ".mlnb" / "registry.db").is_file()


def test_the_views_list_what_the_workspace_holds(tmp_path: Path, diabetes_model_file: Path) -> None:
    from azureml.core import Environment, Model, Workspace

    ws = Workspace.create("myworkspace", show_output=False)
    Model.register(ws, diabetes_model_file, "diabetes")
    Model.register(ws, diabetes_model_file, "diabetes")
    Environment("myenv").register(ws)
    assert list(ws.models) == ["diabetes"] and ws.models["diabetes"].version == 2
    assert list(ws.environments) == ["myenv"] and ws.environments["myenv"].version == "1"
    assert ws.webservices == {} and ws.datasets == {} and ws.compute_targets == {}
