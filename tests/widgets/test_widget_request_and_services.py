from __future__ import annotations

import json

import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice
from mlnb.widgets import RequestPanel, ServicesPanel


@pytest.fixture()
def service(project):
    workspace, model, source = project
    service = Model.deploy(
        workspace, "reqsvc", [model], InferenceConfig("score.py", source_directory=source),
        LocalWebservice.deploy_configuration(backend="process"),
    )
    service.wait_for_deployment(timeout_sec=60)
    return service


def test_payload_comes_from_the_swagger_example_and_send_keeps_history(service, seed_payload, wait_until):
    panel = RequestPanel(service.workspace)
    assert panel.service == "reqsvc"
    wait_until(lambda: "data" in panel.payload and "10" in panel.payload, what="the swagger example")
    assert json.loads(panel.payload) == {"data": [[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}
    panel.join(10)
    panel.payload = json.dumps(seed_payload)
    panel._send_button.click()
    panel.join(30)
    [sent] = panel.history
    assert sent.result.status == 200 and len(sent.result.body) == 2
    assert "200 OK" in panel._answer.value and "ms" in panel._answer.value
    panel.payload = '{"data": [[1, 2]]}'
    panel.send_request()
    panel.join(30)
    assert [s.result.status for s in panel.history] == [200, 400]
    assert "400 Bad Request" in panel._answer.value
    panel._past.value = 0  # choosing the first request shows it again
    assert json.loads(panel.payload) == seed_payload and "200 OK" in panel._answer.value


def test_invalid_json_is_not_sent(service):
    panel = RequestPanel(service.workspace)
    panel.join(10)
    panel.payload = "{not json"
    panel.send_request()
    panel.join(10)
    assert "not valid JSON" in panel._status.value and panel.history == []


def test_services_list_shows_state_and_undeploys(service, wait_until):
    panel = ServicesPanel(service.workspace, refresh_seconds=None)
    assert panel.states == {"reqsvc": "Healthy"}
    assert any("reqsvc" in getattr(cell, "value", "") for cell in panel._grid.children)
    panel._undeploy["reqsvc"].click()
    panel.join(30)
    assert Webservice(service.workspace, "reqsvc").state == "Healthy"  # the first click only asks
    assert panel._undeploy["reqsvc"].description == "Confirm" and "Confirm" in panel._status.value
    panel._undeploy["reqsvc"].click()
    panel.join(30)
    assert panel.states == {}
    assert Webservice.list(service.workspace) == []


def test_services_list_refreshes_by_itself(project, wait_until):
    workspace, model, source = project
    panel = ServicesPanel(workspace, refresh_seconds=0.2)
    assert panel.states == {}
    Model.deploy(workspace, "latesvc", [model], InferenceConfig("score.py", source_directory=source),
                 LocalWebservice.deploy_configuration(backend="process"))
    wait_until(lambda: panel.states.get("latesvc") == "Healthy", what="the new service to show as Healthy")
    panel.close()
