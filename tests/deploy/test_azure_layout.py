"""Azure's container layout: the source folder also answers to its own name under the app root.

Azure ML entry scripts open files as ``./<source folder name>/...`` relative to the app root
(their working directory); mlnb's app root is the source folder itself, so both paths work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.image import render_dockerfile, source_alias

AZURE_STYLE = """\
import json, os

def init():
    global by_folder_name, by_app_root
    by_folder_name = json.load(open("./{name}/labels.json"))
    by_app_root = json.load(open("labels.json"))

def run(data):
    return {{"folder": by_folder_name, "root": by_app_root, "cwd_entries": sorted(os.listdir("."))}}
"""


def azure_project(folder: Path, name: str) -> Path:
    source = folder / name
    source.mkdir()
    (source / "score.py").write_text(AZURE_STYLE.format(name=name))
    (source / "labels.json").write_text('["a", "b"]')
    return source


def test_a_script_opens_files_by_its_source_folders_name(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, _ = project
    source = azure_project(workspace.path.parent, "source_directory")
    service = Model.deploy(workspace, "azurelayout", [model], InferenceConfig("score.py", source_directory=source),
                           LocalWebservice.deploy_configuration(backend="process"))
    service.wait_for_deployment(timeout_sec=60)
    answer = service.run({"data": 1})
    assert answer["folder"] == answer["root"] == ["a", "b"]
    assert answer["cwd_entries"] == ["labels.json", "score.py", "source_directory"]


def test_the_alias_is_the_folders_name_unless_an_entry_has_it(tmp_path: Path) -> None:
    plain = azure_project(tmp_path, "source_directory")
    assert source_alias(plain) == "source_directory"
    (plain / "source_directory").mkdir()  # a folder of that name inside wins, as it would in Azure
    assert source_alias(plain) is None
    assert source_alias(tmp_path / "src" / "..") == tmp_path.name  # the folder's real name
    hidden = tmp_path / ".hidden"
    hidden.mkdir()
    assert source_alias(hidden) is None  # never a dot-file in the app root


@pytest.mark.parametrize("name", ["my folder", "odd\"name", "x$y"])
def test_odd_folder_names_alias_safely(name: str) -> None:
    text = render_dockerfile(base_image="b", entry_script="score.py", model_dir="/m", source_alias=name)
    assert f'RUN ["ln", "-s", ".", {json.dumps("/var/azureml-app/" + name)}]' in text
