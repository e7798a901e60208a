"""collect_data=True on the process backend: requests land in the workspace, across a reload."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.config import DeploymentConfiguration
from mlnb.errors import CollectedDataNotFound, InvalidConfiguration

# Written every 0.2 s instead of 5 s, so the test waits little for the files.
COLLECTING = LocalWebservice.deploy_configuration(
    backend="process", collect_data=True, auth_enabled=True,
    environment_variables={"MLNB_COLLECT_INTERVAL": "0.2"},
)


def collected(service: Webservice, count: int) -> pd.DataFrame:
    """The service's collected frame once it holds ``count`` rows (they reach the files every 0.2 s)."""
    deadline = time.monotonic() + 20
    while True:
        frame = service.get_collected_data()
        if len(frame) >= count or time.monotonic() > deadline:
            return frame
        time.sleep(0.2)


def test_collection_is_in_the_workspace_and_survives_a_reload(project: tuple[Workspace, Model, Path], seed_payload: dict) -> None:
    workspace, model, source = project
    service = Model.deploy(workspace, "collecting", [model], InferenceConfig("score.py", source_directory=source), COLLECTING)
    service.wait_for_deployment(timeout_sec=60)
    key = service.get_keys()[0]
    answered: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():  # a connection per request, so each one may reach either server
            try:
                response = requests.post(service.scoring_uri, json=seed_payload, timeout=10,
                                         headers={"Authorization": f"Bearer {key}"})
            except requests.ConnectionError:
                continue
            if response.status_code == 200:
                answered.append(response.headers["x-ms-request-id"])

    client = threading.Thread(target=traffic)
    client.start()
    try:
        time.sleep(0.5)
        # The new server starts next to the old one; both write to the same folder meanwhile.
        service.reload()
        time.sleep(0.5)
    finally:
        stop.set()
        client.join()
    service.run(seed_payload)  # sent after the switch: the new server's
    assert len(answered) > 10

    frame = collected(service, len(answered) + 1)
    assert frame.attrs["dropped"] == 0
    assert set(answered) <= set(frame["request_id"]) and len(frame) == len(answered) + 1
    assert set(frame["status"]) == {200} and set(frame["service"]) == {"collecting"}
    assert json.loads(frame["inputs"].iloc[0]) == seed_payload

    root = workspace.path / "collected"
    files = list((root / "service=collecting").rglob("part-*.parquet"))
    pids = {path.name.split("-")[1] for path in files}
    assert len(pids) >= 2  # the old server's workers and the new one's
    for folder in (root, root / "service=collecting"):
        assert folder.stat().st_mode & 0o777 == 0o700

    # Metrics need the key (auth is on) and count the new server's requests.
    metrics = service.get_metrics()
    scored = metrics[(metrics["sample"] == "mlnb_requests_total") & (metrics["route"] == "/score")]
    assert scored["value"].sum() >= 1
    assert service.get_collected_data(since=pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1)).empty


def test_a_service_that_does_not_collect_says_how_to(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process")
    service = Model.deploy(workspace, "plain", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    with pytest.raises(CollectedDataNotFound, match="collect_data=True"):
        service.get_collected_data()
    assert service.get_metrics()["metric"].str.startswith("mlnb_").any()


def test_collect_data_is_validated_and_round_trips() -> None:
    config = LocalWebservice.deploy_configuration(backend="docker", collect_data=True)
    assert config.serialize()["collectData"] is True
    assert DeploymentConfiguration.deserialize(config.serialize()) == config
    with pytest.raises(InvalidConfiguration, match="not \"swarm\""):
        LocalWebservice.deploy_configuration(backend="swarm", collect_data=True)
    with pytest.raises(InvalidConfiguration, match="collect_data"):
        LocalWebservice.deploy_configuration(collect_data="yes")  # type: ignore[arg-type]
