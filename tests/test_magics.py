"""The magics through a real InteractiveShell, against real services (process backend)."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import RichOutput, capture_output

import mlnb
from mlnb import Model, Webservice, Workspace
from mlnb.client import ScoreResult
from mlnb.deploy import ScriptCheck
from mlnb.magics import MlnbMagics


@pytest.fixture()
def shell(project: tuple[Workspace, Model, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    workspace, _, source = project
    monkeypatch.chdir(source)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "mlnb")
    magics = ip.magics_manager.registry["MlnbMagics"]
    magics.workspace = str(workspace.path.parent)
    magics.backend = "process"
    yield ip
    ip.run_line_magic("unload_ext", "mlnb")


def test_load_and_unload(shell: InteractiveShell) -> None:
    assert shell.find_line_magic("deploy") is not None
    assert shell.find_cell_magic("score_script") is not None
    shell.run_line_magic("unload_ext", "mlnb")
    assert shell.find_line_magic("deploy") is None
    shell.run_line_magic("load_ext", "mlnb")
    assert shell.find_line_magic("deploy") is not None


def test_help_shows_usage(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    doc = shell.find_line_magic("deploy").__doc__
    assert "%deploy --model NAME[:VERSION]" in doc and "--entry-script" in doc
    shell.run_cell("%deploy?")
    assert "--entry-script" in capsys.readouterr().out


def test_score_script_writes_and_checks(shell: InteractiveShell, seed_score_script: str, tmp_path: Path) -> None:
    check = shell.run_cell_magic("score_script", str(tmp_path / "checked.py"), seed_score_script)
    assert isinstance(check, ScriptCheck)
    assert (tmp_path / "checked.py").read_text() == seed_score_script
    assert check.mode == "schema" and "data" in check.input_schema["properties"]
    tested = shell.run_cell_magic(
        "score_script",
        f"{tmp_path / 'tested.py'} --model sklearn_regression_model:1 --test '{{\"data\": [[1,2,3,4,5,6,7,8,9,10]]}}'",
        seed_score_script,
    )
    assert tested.test_status == 200 and len(tested.test_response) == 1


def test_score_script_errors_are_one_line(shell: InteractiveShell, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="must define init"):
        shell.run_cell_magic("score_script", str(tmp_path / "x.py"), "def run(data):\n    return data\n")
    with pytest.raises(UsageError, match="line 1"):
        shell.run_cell_magic("score_script", str(tmp_path / "y.py"), "def init(:\n")
    with pytest.raises(UsageError, match="init\\(\\) failed"):
        shell.run_cell_magic(
            "score_script",
            f"{tmp_path / 'z.py'} --model sklearn_regression_model --test '{{}}'",
            "def init():\n    raise ValueError('boom')\n\ndef run(data):\n    return data\n",
        )


def test_a_script_that_fails_to_import_shows_its_traceback_then_one_line(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    script = tmp_path / "needs.py"
    cell = "import json\nimport no_such_package_xyz\n\ndef init():\n    pass\n\ndef run(data):\n    return data\n"
    assert not shell.run_cell(f"%%score_script {script}\n{cell}").success
    shown = capsys.readouterr().err
    assert f'File "{script}", line 2, in <module>' in shown and "    import no_such_package_xyz" in shown
    assert "ModuleNotFoundError: No module named 'no_such_package_xyz'" in shown
    assert str(Path(mlnb.__file__).parent) not in shown and "<frozen" not in shown  # only the user's frames
    assert shown.rstrip().splitlines()[-1] == "UsageError: importing needs.py failed (the traceback is above)"


def test_a_failing_init_under_test_shows_its_traceback_then_one_line(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    script = tmp_path / "fails.py"
    cell = "def load():\n    raise ValueError('no weights here')\n\ndef init():\n    load()\n\ndef run(data):\n    return data\n"
    line = f"%%score_script {script} --model sklearn_regression_model --test '{{}}'"
    assert not shell.run_cell(f"{line}\n{cell}").success
    shown = capsys.readouterr().err
    assert f'File "{script}", line 5, in init' in shown and f'File "{script}", line 2, in load' in shown
    assert "ValueError: no weights here" in shown
    assert str(Path(mlnb.__file__).parent) not in shown
    assert shown.rstrip().splitlines()[-1] == "UsageError: init() failed (the traceback is above)"


def test_the_loop(shell: InteractiveShell, seed_payload: dict, capsys: pytest.CaptureFixture[str], diabetes_model_file: Path) -> None:
    model = shell.run_line_magic("register_model", f"again {diabetes_model_file} --tag area=diabetes --framework scikitlearn")
    assert model.id == "again:1" and model.tags == {"area": "diabetes"}

    service = shell.run_line_magic("deploy", "magicsvc --model sklearn_regression_model --entry-script score.py")
    assert isinstance(service, Webservice) and service.state == "Healthy"
    assert "Healthy" in capsys.readouterr().out

    result = shell.run_cell_magic("score", "magicsvc", json.dumps(seed_payload))
    assert isinstance(result, ScoreResult) and result.status == 200 and len(result.body) == 2
    with pytest.raises(UsageError, match=r"^no service named 'magicsv'; did you mean `magicsvc`\? \(%services lists them\)$"):
        shell.run_line_magic("score", "magicsv {}")
    shell.user_ns["rows"] = {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}
    assert len(shell.run_line_magic("score", "magicsvc rows").body) == 1

    shell.run_line_magic("logs", "magicsvc --tail 2")
    assert capsys.readouterr().out.count("\n") == 2
    services = shell.run_line_magic("services", "")
    table = services.to_dataframe()
    assert list(table["name"]) == ["magicsvc"] and list(table["state"]) == ["Healthy"]
    assert "magicsvc" in services._repr_html_() and "Healthy" in services._repr_html_()
    assert [m.id for m in shell.run_line_magic("models", "")] == ["again:1", "sklearn_regression_model:1"]

    shell.run_line_magic("undeploy", "magicsvc")
    services = shell.run_line_magic("services", "")
    assert services.to_dataframe().empty
    assert "no services deployed" in services._repr_html_()


@pytest.mark.parametrize(
    ("magic", "line", "message"),
    [
        ("score", "ghost {}", "no service named 'ghost'"),
        ("logs", "ghost", "no service named 'ghost'"),
        ("undeploy", "ghost", "no service named 'ghost'"),
        ("deploy", "svc --model ghost --entry-script score.py", "no model named 'ghost'"),
        ("deploy", "svc --model sklearn_regression_model --entry-script missing.py", "does not exist"),
        ("deploy", "svc --model sklearn_regression_model --port notanumber", "invalid int value"),
        ("register_model", "m /nonexistent/file.pkl", "does not exist"),
        ("score", "", r"usage: %score \[--no-raise\] NAME PAYLOAD"),
        ("score", "ghost {}", r"^no service named 'ghost' \(%services lists them\)$"),
        ("deploy", "svc --model sklearn_regresion_model", r"did you mean `sklearn_regression_model`\? \(%models lists them\)$"),
        ("deploy", "svc --model sklearn_regression_model:7", r"has no version 7; registered versions: 1 \(%models lists them\)$"),
        ("deploy", "svc --model sklearn_regression_model --port 70000", "--port must be from 1 to 65535"),
        ("profile", "ghost --duration 0", r"^--duration must be > 0 \(seconds\), not 0$"),
    ],
)
def test_user_mistakes_are_usage_errors(shell: InteractiveShell, magic: str, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as error:
        shell.run_line_magic(magic, line)
    assert "\n" not in str(error.value)


_PICKY_SCRIPT = """\
import json

def init():
    pass

def run(data):
    if "boom" in json.loads(data):
        raise ValueError("boom in run()")
    return {"echo": json.loads(data)}
"""


@pytest.fixture()
def picky(shell: InteractiveShell, tmp_path: Path) -> str:
    """A raw-body service (no schema, so no swagger example) whose run() raises on {"boom": ...}."""
    (tmp_path / "picky.py").write_text(_PICKY_SCRIPT)
    shell.run_line_magic("deploy", f"picky --model sklearn_regression_model --entry-script {tmp_path / 'picky.py'}")
    return "picky"


def test_a_failed_score_shows_the_answer_then_fails_the_cell(
    shell: InteractiveShell, picky: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    result = shell.run_cell('%score picky {"boom": 1}')
    assert not result.success and isinstance(result.error_in_exec, UsageError)
    shown = capsys.readouterr()
    assert "ScoreResult(status=500" in shown.out  # the answer is displayed before the error
    assert shown.err.strip() == "UsageError: service picky answered 500: run() raised ValueError: boom in run(); see %logs picky"
    kept = shell.run_line_magic("score", 'picky --no-raise {"boom": 1}')
    assert kept.status == 500
    assert shell.run_line_magic("score", '--no-raise picky {"boom": 2}').status == 500
    assert shell.run_cell('%score picky {"fine": 1}').success


def test_profile_checks_one_request_first_and_falls_back_to_the_last_score(
    shell: InteractiveShell, picky: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match="publishes no example input.*%score picky PAYLOAD first"):
        shell.run_line_magic("profile", "picky --duration 2")
    shell.user_ns["bad"] = ['{"boom": 1}']
    capsys.readouterr()
    started = time.monotonic()
    assert not shell.run_cell("%profile picky --data bad --duration 20").success
    assert time.monotonic() - started < 5  # stopped after the pre-flight request, not after the 20 s of load
    shown = capsys.readouterr()
    assert shown.err.strip() == (
        "UsageError: the first sample got 500 from picky (run() raised ValueError: boom in run()), "
        "so nothing was profiled; fix --data, or see %logs picky"
    )
    assert "requests" not in shown.out  # no load ran
    shell.run_line_magic("score", 'picky {"fine": 1}')
    started = time.monotonic()
    profile = shell.run_line_magic("profile", "picky --duration 3 --concurrency 1 --background")
    assert time.monotonic() - started < 2 and profile.state == "Running"
    profile.wait_for_profiling()
    details = profile.get_details()
    assert details["levels"][0]["requests"] > 0 and details["errors"]["total"] == 0


def test_a_taken_port_says_to_omit_port(shell: InteractiveShell) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=rf"^port {port} is in use by another process; omit --port to pick a free one$"):
            shell.run_line_magic("deploy", f"svc --model sklearn_regression_model --entry-script score.py --port {port}")


def test_deploy_collect_turns_collection_on(shell: InteractiveShell, project: tuple[Workspace, Model, Path]) -> None:
    service = shell.run_line_magic("deploy", "collector --model sklearn_regression_model --entry-script score.py --collect --no-wait")
    assert service._record.spec["deploymentConfig"]["collectData"] is True
    service.delete()


def test_a_failing_deploy_is_a_usage_error_after_the_traceback(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "bad.py").write_text("def init():\n    raise ValueError('no model here')\n\ndef run(data):\n    return data\n")
    with pytest.raises(UsageError, match="failed.*traceback is in the log above"):
        shell.run_line_magic("deploy", f"badsvc --model sklearn_regression_model --entry-script {tmp_path / 'bad.py'}")
    shown = capsys.readouterr()
    assert (shown.out + shown.err).count("ValueError: no model here") == 1  # streamed with the log, not again


def test_a_workspace_is_created_once_when_none_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    magics = MlnbMagics(shell=InteractiveShell.instance())
    assert magics.models("") == []
    assert magics.models("") == []
    assert capsys.readouterr().out.count("created workspace") == 1
    assert (tmp_path / ".mlnb" / "registry.db").is_file()


def _interrupt_after(seconds: float) -> threading.Timer:
    """Send SIGINT to this process after ``seconds``: what a kernel interrupt does."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_interrupting_deploy_leaves_no_process_and_says_so_in_one_line(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "slow.py").write_text("import time\n\ndef init():\n    time.sleep(60)\n\ndef run(data):\n    return data\n")
    workspace = Workspace(shell.magics_manager.registry["MlnbMagics"].workspace + "/.mlnb")
    seen: list[int] = []

    def watch() -> None:  # record the server's PID once it exists, to check it is gone afterwards
        for _ in range(100):
            services = Webservice.list(workspace)
            if services and "pid" in services[0]._record.runtime:
                seen.append(services[0]._record.runtime["pid"])
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    timer = _interrupt_after(3)
    result = shell.run_cell(f"%deploy slowsvc --model sklearn_regression_model --entry-script {tmp_path / 'slow.py'}")
    timer.cancel()
    watcher.join()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    shown = capsys.readouterr()
    assert shown.out.rstrip().splitlines()[-1] == "KeyboardInterrupt: interrupted: service slowsvc was removed"
    assert "Traceback" not in shown.out + shown.err
    assert Webservice.list(workspace) == []
    assert seen, "the server process was never recorded"
    assert not psutil.pid_exists(seen[0]) or psutil.Process(seen[0]).status() == psutil.STATUS_ZOMBIE


def test_profile_a_service(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("deploy", "profiled --model sklearn_regression_model --entry-script score.py")
    profile = shell.run_line_magic("profile", "profiled --duration 6 --concurrency 1,2")
    results = profile.get_results()
    assert set(results) == {"cpu", "memoryInGB"} and results["cpu"] > 0 and results["memoryInGB"] > 0
    assert "profiled" in capsys.readouterr().out
    details = profile.get_details()
    assert [level["concurrency"] for level in details["levels"]] == [1, 2]
    assert details["errors"]["total"] == 0
    with pytest.raises(UsageError, match="integers separated by commas"):
        shell.run_line_magic("profile", "profiled --concurrency one,two")
    with pytest.raises(UsageError, match="neither a variable nor a file"):
        shell.run_line_magic("profile", "profiled --data nothing_here")


def test_a_new_dashboard_replaces_the_last(shell: InteractiveShell) -> None:
    import threading as threads

    def refreshers() -> int:
        return sum(t.name == "mlnb-services-refresh" and t.is_alive() for t in threads.enumerate())

    before = refreshers()
    first = shell.run_line_magic("mlnb", "")
    second = shell.run_line_magic("mlnb", "")
    assert first is not second
    deadline = time.monotonic() + 10  # a stopped ticker ends after its current refresh
    while refreshers() > before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert refreshers() == before + 1
    second.close()


def _progress_outputs(captured: list[RichOutput]) -> tuple[list[RichOutput], list[str]]:
    """The display outputs that are new elements, and the text of every redraw in order."""
    return [output for output in captured if not output.update], [output.data["text/plain"] for output in captured]


def test_deploy_shows_one_progress_line_updated_in_place(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    magics = shell.magics_manager.registry["MlnbMagics"]
    magics.progress = "line"  # what a Jupyter kernel gets by default; this shell is not one
    with capture_output(display=True) as captured:
        service = shell.run_line_magic("deploy", "linesvc --model sklearn_regression_model --entry-script score.py")
    outputs = captured.outputs
    new, texts = _progress_outputs(outputs)
    assert service.state == "Healthy"
    assert len(new) == 1, texts  # one element in the cell, redrawn in place
    assert all(len(text.splitlines()) == 1 for text in texts)  # each redraw is one line
    assert texts[-1].startswith("linesvc: Healthy after ") and texts[-1].endswith(service.scoring_uri)
    final = outputs[-1].data["text/html"]
    assert "<details><summary>full log (" in final and "%logs linesvc" in final
    assert "starting the scoring server" in final  # the full log, collapsed under the line
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""  # none of the log is printed


def test_a_failing_deploy_shows_the_traceback_under_the_line(shell: InteractiveShell, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shell.magics_manager.registry["MlnbMagics"].progress = "line"
    (tmp_path / "bad.py").write_text("def init():\n    raise ValueError('no model here')\n\ndef run(data):\n    return data\n")
    with capture_output(display=True) as captured:
        with pytest.raises(UsageError, match=r"^service 'badsvc' failed: .* \(the traceback and the log are above\)$"):
            shell.run_line_magic("deploy", f"badsvc --model sklearn_regression_model --entry-script {tmp_path / 'bad.py'}")
    new, texts = _progress_outputs(captured.outputs)
    assert len(new) == 1
    final = texts[-1].splitlines()
    assert final[0].startswith("badsvc: Failed after ")
    assert final[1] == "Traceback (most recent call last):" and final[-1] == "ValueError: no model here"
    assert "<details><summary>full log (" in captured.outputs[-1].data["text/html"]
    assert capsys.readouterr().out == ""


def test_rerunning_score_script_with_service_reloads_it_and_keeps_the_old_one_when_the_new_fails(
    shell: InteractiveShell, seed_score_script: str, seed_payload: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    service = shell.run_line_magic("deploy", "inner --model sklearn_regression_model --entry-script score.py")
    before = shell.run_cell_magic("score", "inner", json.dumps(seed_payload)).body  # the last request, for the smoke test
    capsys.readouterr()

    broken = seed_score_script.replace("def init():", "def init():\n    raise ValueError('the weights moved')")
    assert not shell.run_cell(f"%%score_script score.py --service inner\n{broken}").success
    shown = capsys.readouterr().err
    assert "ValueError: the weights moved" in shown  # the cause, from the new server's init() traceback
    assert "the old one is still serving" in shown.rstrip().splitlines()[-1]
    assert service.run(seed_payload) == before  # the old script answers

    failing_run = seed_score_script.replace("return result.tolist()", "raise RuntimeError('oops')")
    assert not shell.run_cell(f"%%score_script score.py --service inner\n{failing_run}").success
    last = capsys.readouterr().err.rstrip().splitlines()[-1]
    assert "the new script answered 500 to the last request" in last and "runs the old script again" in last
    assert service.run(seed_payload) == before and Path("score.py").read_text() == failing_run  # the file keeps the cell

    doubled = seed_score_script.replace("return result.tolist()", "return (result * 2).tolist()")
    assert doubled != seed_score_script
    shell.run_cell_magic("score_script", "score.py --service inner", doubled)
    assert capsys.readouterr().out.splitlines()[-1].startswith("reloaded inner: the last request answered 200 in ")
    assert service.run(seed_payload) == [2 * value for value in before]


def test_score_script_service_must_run_that_file(shell: InteractiveShell, seed_score_script: str, tmp_path: Path) -> None:
    shell.run_line_magic("deploy", "other --model sklearn_regression_model --entry-script score.py")
    with pytest.raises(UsageError, match="^service other runs .*score.py, not .*elsewhere.py: write the cell to that file"):
        shell.run_cell_magic("score_script", f"{tmp_path / 'elsewhere.py'} --service other", seed_score_script)
    assert not (tmp_path / "elsewhere.py").exists()


def test_interrupting_a_deploy_with_a_progress_line_ends_it_cancelled(shell: InteractiveShell, tmp_path: Path) -> None:
    shell.magics_manager.registry["MlnbMagics"].progress = "line"
    (tmp_path / "slow.py").write_text("import time\n\ndef init():\n    time.sleep(60)\n\ndef run(data):\n    return data\n")
    timer = _interrupt_after(3)
    with capture_output(display=True) as captured:
        result = shell.run_cell(f"%deploy slowline --model sklearn_regression_model --entry-script {tmp_path / 'slow.py'}")
    timer.cancel()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert captured.stdout.rstrip().splitlines()[-1] == "KeyboardInterrupt: interrupted: service slowline was removed"
    new, texts = _progress_outputs(captured.outputs)
    assert len(new) == 1 and texts[-1].startswith("slowline: Cancelled after ") and "interrupted during " in texts[-1]
    workspace = Workspace(shell.magics_manager.registry["MlnbMagics"].workspace + "/.mlnb")
    assert Webservice.list(workspace) == []
