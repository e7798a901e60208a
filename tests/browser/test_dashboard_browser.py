"""The dashboard in a real browser: JupyterLab, Notebook 7 and Voila on 127.0.0.1, driven by headless Chromium.

It opens a notebook that runs ``%mlnb`` (Voila runs it as the page loads), waits for the
dashboard to render, fills in the deploy form and clicks *Deploy* (process backend), sees
the service become Healthy with the newest log line in view, sends a test request, and
takes a screenshot. With JupyterLab, set ``MLNB_UPDATE_SCREENSHOT=1`` to also write it to
``docs/images/dashboard.png`` (the README's picture); otherwise it stays in the test's
temporary folder, so a test run leaves the checkout clean.

Without Debian's ``chromium``, ``jupyterlab``, ``notebook``, ``voila`` or ``playwright`` the test skips with the
reason; CI sets ``MLNB_REQUIRE_BROWSER=1`` (see ``.ci/run``), which makes that a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mlnb import Model, Webservice, Workspace

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REQUIRE_BROWSER = "MLNB_REQUIRE_BROWSER"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard.png"
SERVICE = "browsersvc"

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Debian's chromium is not installed ({CHROMIUM}): apt-get install -y chromium"
    for module in ("jupyterlab", "notebook", "voila", "playwright"):
        if importlib.util.find_spec(module) is None:
            return f"the {module} package is not installed: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{reason} ({REQUIRE_BROWSER}=1 requires the browser test)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def project(tmp_path, diabetes_model_file, seed_score_script) -> Iterator[Workspace]:
    """A project folder with a readable name (it shows in the screenshot): the model and src/score.py,
    whose init() prints more lines than the log box holds.
    """
    root = tmp_path / "diabetes-demo"
    (root / "src").mkdir(parents=True)
    chatty = "def init():\n    for step in range(1, 61):\n        print(f'loading part {step}/60', flush=True)\n"
    (root / "src" / "score.py").write_text(seed_score_script.replace("def init():\n", chatty, 1))
    workspace = Workspace.create(root)
    Model.register(workspace, diabetes_model_file, "sklearn_regression_model", model_framework=Model.Framework.SCIKITLEARN)
    yield workspace
    for service in Webservice.list(workspace):
        service.delete()


FRONT_ENDS = ("jupyterlab", "notebook", "voila")


def _command(front_end: str, root: Path, port: int, state: Path) -> list[str]:
    if front_end == "voila":
        return [sys.executable, "-m", "voila", "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}", "--token=",
                str(root / "dashboard.ipynb")]
    command = [
        sys.executable, "-m", front_end, "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
    ]
    if front_end == "jupyterlab":
        command += [f"--LabApp.workspaces_dir={state / 'workspaces'}", f"--LabApp.user_settings_dir={state / 'settings'}"]
    return command


def _answers(front_end: str, url: str) -> bool:
    """Whether the server is up; Voila's pages run the notebook, so for it only the port is probed."""
    if front_end == "voila":
        host, _, port = url.rpartition("//")[2].partition(":")
        with socket.socket() as probe:
            return probe.connect_ex((host, int(port))) == 0
    try:
        return requests.get(f"{url}/api/status", timeout=2).ok
    except requests.ConnectionError:
        return False


@pytest.fixture(params=FRONT_ENDS)
def front_end(request, project, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """JupyterLab, Notebook 7 or Voila serving the project folder with a dashboard notebook: its name and URL."""
    name = request.param
    root = project.path.parent
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "dashboard", "metadata": {}, "outputs": [],
                   "source": ["%load_ext mlnb\n", "%mlnb"]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "dashboard.ipynb").write_text(json.dumps(notebook))
    state = tmp_path_factory.mktemp(name)
    port = _free_port()
    environment = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "JUPYTER_CONFIG_DIR": str(state / "config")}
    log_path = state / f"{name}.log"
    log = open(log_path, "wb")
    server = subprocess.Popen(
        _command(name, root, port, state), cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(name, url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{name} did not start; see {log_path}:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        yield name, url
    finally:
        # The whole session: the server and the kernels it started.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
        log.close()


def _open_dashboard(page, front_end: str, url: str):
    """Open the dashboard notebook as a user of ``front_end`` would, run it, and return the dashboard."""
    from playwright.sync_api import expect

    if front_end == "voila":
        page.goto(url)  # Voila runs the notebook and shows its outputs only
    else:
        page.goto(f"{url}/{'lab/tree' if front_end == 'jupyterlab' else 'notebooks'}/dashboard.ipynb")
        cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
        cell.wait_for(timeout=60_000)
        # A cell run before the kernel is ready is dropped, not queued. Notebook 7 has no status bar.
        if front_end == "jupyterlab":
            expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(timeout=60_000)
        else:
            expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first).to_be_attached(timeout=60_000)
        for attempt in range(3):  # the indicator can say idle a moment before the kernel takes requests
            cell.click()
            page.keyboard.press("Shift+Enter")
            try:
                expect(page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first).not_to_have_text("[ ]:", timeout=10_000)
                break
            except AssertionError:
                if attempt == 2:
                    raise
    dashboard = page.locator(".jp-OutputArea-output .mlnb-panel").first
    dashboard.wait_for(timeout=90_000)
    return dashboard


# The newest line of a log view and whether every box that clips it (the scroll container,
# the notebook panel, the window) shows it whole: what a person sees, not what the DOM holds.
_NEWEST_LINE_SHOWN = """
(box) => {
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  let last = null;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) if (node.data.trim()) last = node;
  if (!last) return {shown: false, why: "no text"};
  const data = last.data.replace(/\\s+$/, "");
  const start = data.lastIndexOf("\\n") + 1;
  const range = document.createRange();
  range.setStart(last, start);
  range.setEnd(last, data.length);
  const line = range.getBoundingClientRect();
  let top = 0, bottom = window.innerHeight, scrolls = false;
  for (let element = last.parentElement; element; element = element.parentElement) {
    const style = getComputedStyle(element);
    const rect = element.getBoundingClientRect();
    if (style.overflowY !== "visible" && rect.width > 0 && rect.height > 0) {  // display: contents has no box
      top = Math.max(top, rect.top);
      bottom = Math.min(bottom, rect.bottom);
    }
    if (box.contains(element) && element.scrollHeight > element.clientHeight + 1) scrolls = true;
  }
  return {shown: line.height > 0 && line.top >= top - 1 && line.bottom <= bottom + 1,
          line: data.slice(start), at: [line.top, line.bottom], visible: [top, bottom], scrolls: scrolls};
}
"""


# Every box inside a panel that sticks out of it, left or right.
_OUTSIDE_THE_PANEL = """
(panel) => {
  const bounds = panel.getBoundingClientRect();
  return [...panel.querySelectorAll("*")].map((element) => [element, element.getBoundingClientRect()])
    .filter(([, rect]) => rect.width > 0 && (rect.right > bounds.right + 1 || rect.left < bounds.left - 1))
    .map(([element, rect]) => `${element.tagName}.${element.className}: ${rect.left}-${rect.right} (panel ${bounds.left}-${bounds.right})`);
}
"""


def _assert_newest_line_shown(log, *, timeout: float = 20) -> dict:
    """Poll until the newest line of ``log`` (a Playwright locator) is visible; return what was seen."""
    log.scroll_into_view_if_needed()
    deadline = time.monotonic() + timeout
    while True:
        seen = log.evaluate(_NEWEST_LINE_SHOWN)
        if seen["shown"] or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert seen["shown"], f"the newest log line is not visible: {seen}"
    assert seen["scrolls"], f"the log fits its box, so this proves nothing: {seen}"
    return seen


def test_deploys_from_the_dashboard_in_chromium(project, front_end, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    workspace = project
    name, url = front_end
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            dashboard = _open_dashboard(page, name, url)
            page.locator(".lm-TabBar-tab", has_text="Deploy").last.click()
            form = page.locator(".mlnb-deploy-name input")
            expect(form).to_be_visible()
            form.fill(SERVICE)
            page.locator(".mlnb-deploy-entry-script input").fill("score.py")
            page.locator(".mlnb-deploy-source-directory input").fill("src")
            page.locator(".mlnb-deploy-backend select").select_option("process")
            page.locator("button.mlnb-deploy-deploy").click()
            expect(page.get_by_text(f"{SERVICE} is Healthy")).to_be_visible(timeout=90_000)
            expect(page.locator(".mlnb-log pre").first).to_contain_text("mlnb.serving: serving", timeout=30_000)
            assert Webservice(workspace, SERVICE).state == "Healthy"
            expect(page.locator(".mlnb-log:visible")).to_contain_text("loading part 60/60", timeout=30_000)
            _assert_newest_line_shown(page.locator(".mlnb-log:visible"))
            shot = tmp_path / "dashboard.png"
            dashboard.screenshot(path=str(shot))
            page.locator(".lm-TabBar-tab", has_text="Logs").last.click()
            expect(page.locator(".mlnb-log:visible")).to_contain_text("loading part 60/60", timeout=30_000)
            _assert_newest_line_shown(page.locator(".mlnb-log:visible"))
            dashboard.screenshot(path=str(tmp_path / "logs.png"))
            page.locator(".lm-TabBar-tab", has_text="Test").last.click()
            request_panel = page.locator(".mlnb-request")
            expect(request_panel.locator("textarea")).to_have_value(re.compile(r"10,\s+9,\s+8"), timeout=30_000)
            request_panel.locator("button", has_text="Send").click()
            expect(request_panel).to_contain_text("200 OK", timeout=30_000)
            assert request_panel.evaluate(_OUTSIDE_THE_PANEL) == []
            dashboard.screenshot(path=str(tmp_path / "test.png"))
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            print(f"the page when the test failed: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    if name == "jupyterlab" and os.environ.get("MLNB_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)
