"""A path where a Workspace belongs is one line that says how to get a Workspace, at every entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlnb import InferenceConfig, Model, Webservice
from mlnb.errors import InvalidConfiguration
from mlnb.image import ModelPackage

ENTRY_POINTS: dict[str, Callable[[Any, InferenceConfig], object]] = {
    "Webservice": lambda ws, _: Webservice(ws, "svc"),
    "Webservice.list": lambda ws, _: Webservice.list(ws),
    "Model.deploy": lambda ws, config: Model.deploy(ws, "svc", ["m:1"], config),
    "Model.profile": lambda ws, config: Model.profile(ws, "prof", ["m:1"], config, [1]),
    "Model.package": lambda ws, config: Model.package(ws, ["m:1"], config),
    "ModelPackage": lambda ws, config: ModelPackage(ws, ["m:1"], config),
}


@pytest.mark.parametrize("call", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
@pytest.mark.parametrize("workspace", [".", None, 3], ids=["a path", "None", "a number"])
def test_a_non_workspace_is_named(call: Callable[[Any, InferenceConfig], object], workspace: object, tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(data):\n    return data\n")
    config = InferenceConfig(entry_script=str(tmp_path / "score.py"))
    with pytest.raises(InvalidConfiguration, match=r"^workspace must be a Workspace \(Workspace.from_config\(\) or "):
        call(workspace, config)
