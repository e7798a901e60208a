"""``mlnb service data``: a service's collected requests written to Parquet or CSV."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.cli import main
from mlnb.deploy.backends import FakeBackend, register_backend, unregister_backend
from mlnb.serving.collect import Collector, Row


@pytest.fixture()
def collecting(project: tuple[Workspace, Model, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A service ``svc`` (on the fake backend) whose collection holds an old and a new request."""
    workspace, model, source = project
    register_backend("fake", FakeBackend)
    try:
        Model.deploy(workspace, "svc", [model], InferenceConfig("score.py", source_directory=source),
                     LocalWebservice.deploy_configuration(backend="fake", collect_data=True))
        # What the server's collector writes, in the folder a collecting deployment uses.
        collector = Collector(str(workspace.path / "collected"), service="svc", interval_s=3600, max_rows=10)
        for request_id, age in (("old", 3 * 3600), ("new", 60)):
            collector.add(Row(time.time() - age, request_id, "POST", 200, 0.002, 0.5, b'{"data": [[1, 2]]}', "", b"[3.0]"))
        collector.close()
        monkeypatch.chdir(workspace.path.parent)
        yield workspace
        Webservice(workspace, "svc").delete()
    finally:
        unregister_backend("fake")


def test_service_data_writes_parquet_and_csv(collecting: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["service", "data", "svc", "--out", str(tmp_path / "all.parquet")]) == 0
    assert capsys.readouterr().out.startswith("2 rows to ")
    frame = pd.read_parquet(tmp_path / "all.parquet")
    assert list(frame["request_id"]) == ["old", "new"] and list(frame["outputs"]) == ["[3.0]", "[3.0]"]

    assert main(["service", "data", "svc", "--since", "1h", "--out", str(tmp_path / "recent.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "recent.csv")["request_id"]) == ["new"]


def test_service_data_errors_are_one_line(collecting: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["service", "data", "svc", "--out", str(tmp_path / "x.json")]) == 1
    assert "name a .parquet or .csv file" in capsys.readouterr().err
    assert main(["service", "data", "svc", "--since", "yesterday", "--out", str(tmp_path / "x.csv")]) == 1
    assert "is not an ISO date or time" in capsys.readouterr().err
