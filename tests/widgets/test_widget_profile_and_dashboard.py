from __future__ import annotations

import json

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice
from mlnb.errors import InvalidConfiguration
from mlnb.widgets import Dashboard, ProfilePanel
from mlnb.widgets.dashboard import TABS
from mlnb.widgets.profile import parse_levels


@pytest.fixture()
def service(project):
    workspace, model, source = project
    service = Model.deploy(
        workspace, "profsvc", [model], InferenceConfig("score.py", source_directory=source),
        LocalWebservice.deploy_configuration(backend="process"),
    )
    service.wait_for_deployment(timeout_sec=60)
    return service


def test_profiles_a_service_and_shows_the_recommendation_and_the_plot(service, wait_until):
    panel = ProfilePanel(service.workspace)
    wait_until(lambda: '"data"' in panel._input.value, what="the swagger example")
    panel.join(10)
    panel.configure(duration_s=4, concurrency="1, 2")
    panel._run.click()
    assert panel._run.disabled
    panel.join(120)
    assert panel.error is None, panel._status.value
    assert panel.profile.state == "Succeeded"
    assert "Recommended: cpu" in panel._result.value and "memory" in panel._result.value
    assert panel.plot_png.startswith(b"\x89PNG")
    assert panel._progress.value == 1.0


def test_concurrency_must_be_positive_integers():
    assert parse_levels("1, 2,4") == [1, 2, 4]
    for text in ("", "a", "0, 1"):
        with pytest.raises(InvalidConfiguration):
            parse_levels(text)


def test_dashboard_wires_the_panels(project, wait_until):
    workspace, model, source = project
    dashboard = Dashboard(workspace, refresh_seconds=None)
    assert dashboard._tabs.titles == TABS
    assert dashboard.services.states == {}
    dashboard.show("Deploy").deploy.configure(
        name="dashsvc", entry_script="score.py", source_directory=str(source), backend="process"
    ).deploy()
    dashboard.deploy.join(120)
    assert dashboard.deploy.error is None
    assert dashboard._tabs.selected_index == TABS.index("Deploy")
    assert dashboard.services.states == {"dashsvc": "Healthy"}
    assert dashboard.requests.service == "dashsvc"
    assert dashboard._log_service.value == "dashsvc"
    assert dashboard.monitor._service.value == "dashsvc"
    wait_until(lambda: dashboard.logs.lines, what="the log tab to follow the service")
    dashboard.close()


def test_mlnb_magic_returns_a_dashboard(project, monkeypatch):
    workspace, _, _ = project
    monkeypatch.chdir(workspace.path.parent)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "mlnb")
    try:
        dashboard = shell.run_line_magic("mlnb", "")
        assert isinstance(dashboard, Dashboard) and dashboard.workspace == workspace
        dashboard.close()
    finally:
        shell.run_line_magic("unload_ext", "mlnb")
    assert Webservice.list(workspace) == []


def test_the_test_and_profile_tabs_fetch_the_example_once_the_service_is_healthy(project, seed_score_script, wait_until):
    workspace, model, source = project
    slow = seed_score_script.replace("def init():\n", "def init():\n    import time\n    time.sleep(4)\n", 1)
    (source / "slow_score.py").write_text(slow)
    Model.deploy(  # as %deploy --no-wait in a cell would: the dashboard sees it while init() runs
        workspace, "slowex", [model], InferenceConfig("slow_score.py", source_directory=source),
        LocalWebservice.deploy_configuration(backend="process"),
    )
    dashboard = Dashboard(workspace, refresh_seconds=0.2)
    try:
        assert dashboard.requests.service == "slowex"
        dashboard.requests.join(10)
        assert Webservice(workspace, "slowex").state == "Transitioning"
        assert json.loads(dashboard.requests.payload) == {"data": []}  # nothing to fetch yet
        wait_until(lambda: "10" in dashboard.requests.payload, timeout=60, what="the example after Healthy")
        assert json.loads(dashboard.requests.payload) == {"data": [[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}
        wait_until(lambda: "10" in dashboard.profile._input.value, timeout=10, what="the profile tab's example")
    finally:
        dashboard.close()
