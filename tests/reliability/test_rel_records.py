"""Service records: an update changes an existing row only, so a refresh that races a
delete never brings the deleted service back as a "Failed" ghost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.deploy import _records as records
from mlnb.deploy.backends import FakeBackend
from mlnb.errors import ServiceNotFound


def test_a_record_update_never_resurrects_a_deleted_service(fake: FakeBackend, project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    config = InferenceConfig(entry_script="score.py", source_directory=source)
    for _ in range(30):
        Model.deploy(workspace, "ghost", [model], config, LocalWebservice.deploy_configuration(backend="fake"))
        stop = threading.Event()

        def refresh(stop: threading.Event = stop) -> None:
            # What a dashboard's refresh thread does while another cell deletes the service.
            while not stop.is_set():
                try:
                    records.update(workspace, "ghost", state="Failed", error="gone")
                except ServiceNotFound:
                    pass

        refresher = threading.Thread(target=refresh)
        refresher.start()
        try:
            records.remove(workspace, "ghost")
        finally:
            stop.set()
            refresher.join()
        assert records.find(workspace, "ghost") is None, "a record update brought the deleted service back"
        fake.services.clear()


def test_updating_a_missing_record_says_nothing_was_updated(project: tuple[Workspace, Model, Path]) -> None:
    workspace, _, _ = project
    with pytest.raises(ServiceNotFound, match="nothing"):
        records.update(workspace, "nobody", state="Healthy")
    assert records.find(workspace, "nobody") is None
