"""Screenshots of the notebook experience for docs/images/, taken in JupyterLab with headless Chromium.

    .venv/bin/python tools/screenshots.py      # with MLNB_BASE_IMAGE exported (docs/development.md)

It makes a project in a temporary folder (the diabetes model, its entry script and a
notebook), starts JupyterLab on 127.0.0.1, and writes:

- ``error-cell.png``: a ``%%score_script --test`` cell whose ``init()`` fails;
- ``deploy-building.png`` and ``deploy-healthy.png``: a Docker ``%deploy`` cell while the
  image builds, and once the service is Healthy;
- ``dashboard-logs.png``: the dashboard's Logs tab following that service's log (the Docker
  build, then the server), its newest line in view.

It needs a Docker engine with the base image, Debian's chromium and the dev extra
(jupyterlab, playwright). Everything it starts is stopped, and the service and the images
built for its workspace are removed, when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import requests

from mlnb import Model, Webservice, Workspace
from mlnb.demo import train_diabetes_model

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
SERVICE = "diabetes"
PAYLOAD = '{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}'

SCORE = '''\
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global model
    model = joblib.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_regression_model.pkl"))


@input_schema("data", NumpyParameterType(np.array([[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]])))
@output_schema(NumpyParameterType(np.array([3726.995])))
def run(data):
    return model.predict(data).tolist()
'''

CELLS = [
    "%load_ext mlnb",
    # The error: init() loads a file the model does not have.
    f"%%score_script broken.py --model sklearn_regression_model --test '{PAYLOAD}'\n"
    + SCORE.replace('"sklearn_regression_model.pkl"', '"model.pkl"'),
    f"svc = %deploy {SERVICE} --model sklearn_regression_model --entry-script src/score.py --backend docker",
    "%mlnb",
]


def _notebook(path: Path) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"cell{n}", "metadata": {}, "outputs": [],
              "source": source} for n, source in enumerate(CELLS)]
    notebook = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _jupyterlab(root: Path, state: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    # No "get notified about Jupyter news?" toast over the cells.
    notification = state / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false"}))
    environment = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "JUPYTER_CONFIG_DIR": str(state / "config")}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={state / 'workspaces'}",
         f"--LabApp.user_settings_dir={state / 'settings'}"],
        env=environment, stdout=open(state / "jupyterlab.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{url}/api/status", timeout=2).ok:
                return server, url
        except requests.ConnectionError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"JupyterLab did not start; see {state / 'jupyterlab.log'}")
        time.sleep(0.3)


def _visible_part(page: Page, cell: Locator, panel: Locator, path: Path) -> None:
    """Screenshot what a user sees of ``cell`` with its end scrolled into view: a cell taller
    than the notebook panel shows its last panel-full, as it does on screen."""
    cell.locator(".jp-OutputArea-output").last.evaluate("(e) => e.scrollIntoView({block: 'end'})")
    time.sleep(0.5)
    box, bounds = cell.bounding_box(), panel.bounding_box()
    assert box is not None and bounds is not None
    top, bottom = max(box["y"], bounds["y"]), min(box["y"] + box["height"], bounds["y"] + bounds["height"])
    page.screenshot(path=str(path), clip={"x": box["x"], "y": top, "width": box["width"], "height": bottom - top})


def _take(page: Page, output: Path) -> None:
    from playwright.sync_api import expect

    page.goto(page.url.rsplit("/lab", 1)[0] + "/lab/tree/shots.ipynb")
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    cells.first.locator(".cm-content").wait_for(timeout=90_000)
    panel = page.locator(".jp-NotebookPanel-notebook").first
    # A cell run before the kernel is ready is dropped, not queued.
    expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(timeout=90_000)

    def run(index: int) -> None:
        cells.nth(index).locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        expect(cells.nth(index).locator(".jp-InputPrompt")).not_to_have_text("[ ]:", timeout=30_000)

    run(0)
    run(1)
    expect(cells.nth(1).locator(".jp-OutputArea-output").last).to_contain_text("UsageError", timeout=120_000)
    _visible_part(page, cells.nth(1), panel, output / "error-cell.png")
    run(2)
    # While building: the progress line shows a `docker build` step, the service is not Healthy yet.
    expect(cells.nth(2).locator(".jp-OutputArea")).to_contain_text("Step ", timeout=120_000)
    _visible_part(page, cells.nth(2), panel, output / "deploy-building.png")
    expect(cells.nth(2).locator(".jp-OutputArea")).to_contain_text("Healthy", timeout=600_000)
    expect(cells.nth(2).locator(".jp-InputPrompt")).not_to_have_text("[*]:", timeout=60_000)
    _visible_part(page, cells.nth(2), panel, output / "deploy-healthy.png")
    run(3)
    dashboard = page.locator(".jp-OutputArea-output .mlnb-panel").first
    dashboard.wait_for(timeout=90_000)
    page.locator(".lm-TabBar-tab", has_text="Logs").last.click()
    expect(page.locator(".mlnb-log:visible")).to_contain_text("mlnb.serving: serving", timeout=60_000)
    dashboard.scroll_into_view_if_needed()
    time.sleep(1)  # one pump interval, so the view shows the newest lines
    dashboard.screenshot(path=str(output / "dashboard-logs.png"))


def _clean(workspace: Workspace) -> None:
    for service in Webservice.list(workspace):
        service.delete()
    client = docker.from_env()
    for image in client.api.images(filters={"label": f"mlnb.workspace={workspace.path}"}):
        client.api.remove_image(image["Id"], force=True)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=IMAGES, help=f"where to write the PNGs (default {IMAGES})")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlnb-screenshots-") as tmp:
        root, state = Path(tmp) / "diabetes-demo", Path(tmp) / "jupyter"
        root.mkdir()
        state.mkdir()
        workspace = Workspace.create(root)
        Model.register(workspace, train_diabetes_model(root / "sklearn_regression_model.pkl"), "sklearn_regression_model",
                       model_framework=Model.Framework.SCIKITLEARN)
        (root / "src").mkdir()
        (root / "src" / "score.py").write_text(SCORE)
        _notebook(root / "shots.ipynb")
        server, url = _jupyterlab(root, state)
        try:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 1100})
                    page.goto(f"{url}/lab")
                    _take(page, args.output)
                finally:
                    browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
            _clean(workspace)
    for name in ("error-cell", "deploy-building", "deploy-healthy", "dashboard-logs"):
        print(args.output / f"{name}.png")


if __name__ == "__main__":
    main()
