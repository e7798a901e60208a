from __future__ import annotations

import threading

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.widgets import LogView
from mlnb.widgets._background import Pump


def test_a_burst_from_another_thread_keeps_every_line_in_order(tmp_path, wait_until):
    view = LogView(Workspace.create(tmp_path))
    lines = [f"line {i:05d}" for i in range(5000)]
    writer = threading.Thread(target=lambda: [view.append(line) for line in lines])
    writer.start()
    writer.join()
    assert view.lines == lines
    wait_until(lambda: "line 04999" in view.text, what="the newest line to render")
    assert "line 04500" in view.text  # the newest 500 lines are shown
    assert "line 04499" not in view.text
    view.close()


def test_history_is_bounded_oldest_first_out(tmp_path):
    view = LogView(Workspace.create(tmp_path), max_lines=100)
    view.extend([str(i) for i in range(250)])
    assert view.lines == [str(i) for i in range(150, 250)]
    view.close()


def test_pause_freezes_the_view_and_follow_catches_up(tmp_path, wait_until):
    view = LogView(Workspace.create(tmp_path))
    view.append("first")
    wait_until(lambda: "first" in view.text, what="the first line")
    view._follow.value = False
    view.append("second")
    assert "second" in view.lines
    view._follow.value = True
    wait_until(lambda: "second" in view.text, what="the view to catch up")
    view.close()


def test_pump_coalesces_pokes_into_few_renders():
    renders = []
    done = threading.Event()
    pump = Pump(lambda: renders.append(1) or done.set(), interval=0.2)
    for _ in range(10_000):
        pump.poke()
    done.wait(5)
    pump.stop()
    assert 1 <= len(renders) < 100


def test_follows_a_process_service_through_a_burst(project, wait_until):
    workspace, model, source = project
    service = Model.deploy(
        workspace, "logsvc", [model], InferenceConfig("score.py", source_directory=source),
        LocalWebservice.deploy_configuration(backend="process"),
    )
    service.wait_for_deployment(timeout_sec=60)
    view = LogView(workspace, service="logsvc")
    wait_until(lambda: any("mlnb.serving: serving" in line for line in view.lines), what="the server's first lines")
    log_file = workspace.path / "services" / "logsvc" / "deploy.log"
    burst = [f"burst {i:05d}" for i in range(5000)]

    def write() -> None:
        with open(log_file, "a") as handle:
            for line in burst:
                handle.write(line + "\n")
                handle.flush()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()
    wait_until(lambda: view.lines[-1:] == ["burst 04999"], timeout=30, what="the whole burst")
    assert [line for line in view.lines if line.startswith("burst ")] == burst
    wait_until(lambda: "burst 04999" in view.text, what="the burst to render")
    view.close()


def test_terminal_colour_codes_are_not_shown(tmp_path, wait_until):
    view = LogView(Workspace.create(tmp_path))
    pip_warning = "\x1b[1;33mWARNING: Running pip as the 'root' user\x1b[0m"
    view.extend([pip_warning, "\x1b[2K\x1b[31merror\x1b[39m: done"])
    wait_until(lambda: "error" in view.text, what="the lines to render")
    assert "WARNING: Running pip as the &#x27;root&#x27; user\nerror: done" in view.text
    assert "\x1b" not in view.text and "[0m" not in view.text and "[1;33m" not in view.text
    assert view.lines[0] == pip_warning  # the history keeps what the service wrote
    view.close()


def test_the_scroll_container_is_the_view_itself(tmp_path):
    # The browser test shows it; this pins the markup it relies on: the div has the height.
    view = LogView(Workspace.create(tmp_path), height="200px")
    assert view.text.startswith("<div class='mlnb-log' style='height:200px'><pre>")
    assert view._text.layout.height is None
    view.close()
