from __future__ import annotations

import pytest

from mlnb import Webservice
from mlnb.errors import DeploymentFailed, InvalidConfiguration
from mlnb.widgets import DeployPanel
from mlnb.widgets.deploy import deploy_phase, steps_html


def test_phases_follow_the_log():
    assert deploy_phase("Transitioning", "[mlnb] deploying 'x'") == "build"
    assert deploy_phase("Transitioning", "[mlnb] starting the scoring server on 127.0.0.1:1") == "start"
    assert deploy_phase("Transitioning", "[mlnb] started container c on 127.0.0.1:1") == "start"
    assert deploy_phase("Transitioning", "...\nmlnb.serving: serving /app/score.py on http://...") == "init"
    assert deploy_phase("Healthy", "") == "Healthy"
    assert "mlnb-step-failed'>&#x2716; init" in steps_html("init", failed=True)


def test_deploys_on_the_process_backend_and_shows_the_uris(project, wait_until):
    workspace, model, source = project
    panel = DeployPanel(workspace)
    assert panel._models.value == (model.id,)
    panel._name.value = "formsvc"
    panel._entry_script.value = "score.py"
    panel._source_directory.value = str(source)
    panel._backend.value = "process"
    panel._deploy.click()
    assert panel._deploy.disabled  # busy while it deploys
    panel.join(120)
    assert panel.error is None
    assert not panel._deploy.disabled
    service = Webservice(workspace, "formsvc")
    assert service.state == "Healthy"
    assert service.scoring_uri in panel._result.value
    assert "mlnb-step-done'>&#x2714; Healthy" in panel._steps.value
    wait_until(lambda: any("mlnb.serving: serving" in line for line in panel.log_view.lines), what="the log beside the form")


def test_a_failing_init_shows_one_line_and_the_traceback_in_the_log(project, wait_until):
    workspace, model, source = project
    (source / "broken.py").write_text("def init():\n    raise RuntimeError('no model here')\n\ndef run(data):\n    return data\n")
    panel = DeployPanel(workspace).configure(
        name="brokensvc", entry_script="broken.py", source_directory=str(source), backend="process"
    )
    panel._deploy.click()
    panel.join(120)
    assert isinstance(panel.error, DeploymentFailed)
    assert "brokensvc" in panel._status.value and "mlnb-error" in panel._status.value
    assert "mlnb-step-failed" in panel._steps.value
    wait_until(lambda: any("RuntimeError: no model here" in line for line in panel.log_view.lines), what="the traceback in the log")


def test_form_mistakes_show_in_the_panel(project):
    workspace, model, source = project
    panel = DeployPanel(workspace).configure(name="x1x", entry_script="missing.py", source_directory=str(source), backend="process")
    panel.deploy()
    panel.join(30)
    assert isinstance(panel.error, InvalidConfiguration)
    assert "missing.py" in panel._status.value
    panel.configure(models=[])
    panel.deploy()
    panel.join(30)
    assert "choose at least one model" in panel._status.value


@pytest.mark.docker
def test_deploys_on_docker(project, base_image, monkeypatch, wait_until):
    monkeypatch.setenv("MLNB_BASE_IMAGE", base_image)
    workspace, model, source = project
    panel = DeployPanel(workspace).configure(
        name="dockerform", entry_script="score.py", source_directory=str(source), backend="docker"
    )
    panel.deploy()
    panel.join(300)
    assert panel.error is None, panel._status.value
    service = Webservice(workspace, "dockerform")
    assert service.backend == "docker" and service.state == "Healthy"
    wait_until(
        lambda: any(line.startswith("mlnb.serving: serving") for line in panel.log_view.lines),
        timeout=30, what="the container's output in the log beside the form",
    )
