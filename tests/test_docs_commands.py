"""The shell commands in README.md and docs/*.md are true: each is run, parsed, or skipped for a stated reason.

Every command is extracted from the documents' shell code blocks (a fence with no language,
or ``sh``/``bash``/``console``/``shell``): in a block with no language, lines that start with
a known program (:data:`PROGRAMS`); in a shell block, every line. :data:`COMMANDS` says for each
one what this test does with it:

- ``RUN``: run for real, in the order the document gives, in a temporary project with no
  Docker engine (``backend="auto"`` picks the process backend), after the document's
  :data:`SETUP`. A server (``mlnb serve``, ``python -m mlnb.serving``) is started with a
  free ``--port`` appended (5001 may be taken on a shared machine), scored once, and stopped.
- ``parse(reason)``: not run (the reason says why), but its arguments are parsed by the real
  argument parser, so a renamed or removed flag fails here.
- ``SYNOPSIS``: a usage line with placeholders; every ``--option`` it names must appear in
  the command's ``--help``.
- ``skip(reason)``: needs what this test cannot have (an engine, a cluster, minutes).

A command in the documents that is not in :data:`COMMANDS`, or an entry of :data:`COMMANDS`
that is no longer in the documents, fails :func:`test_every_documented_command_is_listed`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from mlnb.cli import main as mlnb_main
from mlnb.cli._main import build_parser
from mlnb.serving.settings import parse_settings

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"sh", "bash", "console", "shell"}
# In a code block with no language, a line is a command when it starts with one of these.
PROGRAMS = ("mlnb ", "python ", "make ", ".venv/bin/", ".ci/", "docker ", "kubectl ", "pip ", "curl ", "export ",
            "bash ", "helm ")

Kind = tuple[str, str]
RUN: Kind = ("run", "")
SYNOPSIS: Kind = ("synopsis", "a usage line: its --options are checked against --help")


def parse(reason: str) -> Kind:
    return ("parse", reason)


def skip(reason: str) -> Kind:
    return ("skip", reason)


_NEEDS_CLUSTER = skip("needs a Kubernetes cluster (none can run here); tests/kube check the manifests with kubectl kustomize")
_PRUNES_ENGINE_IMAGES = skip("removes images on the Docker engine; tests/docker/test_docker_prune.py runs mlnb prune against images it built")
_NEEDS_DOCKER = skip("needs a Docker engine and an image; tests/docker/test_packaging_image.py builds and runs a saved Dockerfile")
SEED = '{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}'

COMMANDS: dict[tuple[str, str], Kind] = {
    ("README.md", "make demo"): skip("CI runs it (.ci/run); it makes .venv and takes minutes"),
    ("README.md", "make test"): skip("runs this test suite"),
    ("README.md", "mlnb model register -n sklearn_regression_model -p outputs/sklearn_regression_model.pkl --tag area=diabetes"): RUN,
    ("README.md", "mlnb model list"): RUN,
    ("README.md", "mlnb model show sklearn_regression_model:1"): RUN,
    ("README.md", "mlnb model download --model-id sklearn_regression_model:1 --target-dir restored"): RUN,
    ("README.md", "mlnb deploy -n myservice -m sklearn_regression_model:1 --entry-script score.py --source-dir src"): RUN,
    ("README.md", f"mlnb service score myservice '{SEED}'"): RUN,
    ("README.md", "mlnb service logs myservice --tail 20"): RUN,
    ("README.md", "mlnb profile myservice --data requests.jsonl --duration 30"): parse(
        "30 s of load on a shared machine; tests/cli/test_cli.py::test_profile_a_service runs `mlnb profile`"
    ),
    ("README.md", "mlnb service data myservice --since 1h --out requests.parquet"): parse(
        "the README's service does not collect; tests/cli/test_cli_data.py runs `mlnb service data`"
    ),
    ("README.md", "mlnb service delete myservice"): RUN,
    ("README.md", "mlnb serve --entry-script src/score.py --model-dir outputs"): RUN,
    ("docs/development.md", "export MLNB_BASE_IMAGE=$(.ci/base-image)"): skip(
        "needs a Docker engine and root, and builds an image; .ci/run runs it, tests/ci test its mirror lookup"
    ),
    ("docs/development.md", ".venv/bin/python tools/screenshots.py"): skip(
        "a Docker build and JupyterLab in Chromium, minutes; it writes docs/images/ (run by hand, see the document)"
    ),
    ("docs/kubernetes.md", "kubectl apply -k k8s/diabetes"): _NEEDS_CLUSTER,
    ("docs/kubernetes.md", "kubectl rollout status deployment/diabetes"): _NEEDS_CLUSTER,
    ("docs/kubernetes.md", "kubectl port-forward service/diabetes 8080:80"): _NEEDS_CLUSTER,
    ("docs/packaging.md", "pip download --only-binary=:all: --platform manylinux2014_x86_64 --platform "
     "manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 --implementation cp --python-version 3.11 -d DIR "
     "-r requirements.txt"): skip("what mlnb.image runs to fill the wheelhouse (tests/image); it downloads from the index"),
    ("docs/packaging.md", "docker build -t myimage imagefiles"): _NEEDS_DOCKER,
    ("docs/packaging.md", "docker run -p 6789:5001 myimage"): _NEEDS_DOCKER,
    ("docs/packaging.md", "mlnb prune --dry-run"): _PRUNES_ENGINE_IMAGES,
    ("docs/packaging.md", "mlnb prune --keep 1"): _PRUNES_ENGINE_IMAGES,
    ("docs/packaging.md", "mlnb prune --all-workspaces"): _PRUNES_ENGINE_IMAGES,
    ("docs/packaging.md", "curl -X POST -H 'Content-Type: application/json' -d "
     "'{\"data\": [[1,2,3,4,5,6,7,8,9,10]]}' http://localhost:6789/score"): _NEEDS_DOCKER,
    ("docs/registry.md", "mlnb model register -n NAME -p PATH [--tag k=v]... [--property k=v]... "
     "[--description TEXT] [--framework F] [--framework-version V]"): SYNOPSIS,
    ("docs/registry.md", "mlnb model list [-n NAME] [--tag k=v]... [--latest] [--json]"): SYNOPSIS,
    ("docs/registry.md", "mlnb model show NAME[:VERSION]"): SYNOPSIS,
    ("docs/registry.md", "mlnb model download --model-id NAME:VERSION --target-dir DIR [--exist-ok]"): SYNOPSIS,
    ("docs/registry.md", "mlnb model delete NAME:VERSION"): SYNOPSIS,
    ("docs/serving.md", "python -m mlnb.serving --entry-script score.py --model-dir azureml-models/sklearn_mnist/1"): RUN,
    ("docs/serving.md", "mlnb serve --entry-script score.py --model-dir azureml-models/sklearn_mnist/1"): RUN,
    ("docs/serving.md", "python -m mlnb.serving --host 0.0.0.0 --port 5001 --entry-script /var/azureml-app/score.py "
     "--model-dir /var/azureml-app/azureml-models/NAME/VERSION --workers 2"): parse(
        "the image's command: its paths exist inside a container (tests/docker run it)"
    ),
}

# What a run command prints on success (a substring of its stdout).
EXPECT = {
    "mlnb model register -n sklearn_regression_model -p outputs/sklearn_regression_model.pkl --tag area=diabetes":
        "registered sklearn_regression_model:1",
    "mlnb model list": "area=diabetes",
    "mlnb model show sklearn_regression_model:1": '"id": "sklearn_regression_model:1"',
    "mlnb model download --model-id sklearn_regression_model:1 --target-dir restored":
        "restored/sklearn_regression_model.pkl",
    "mlnb deploy -n myservice -m sklearn_regression_model:1 --entry-script score.py --source-dir src": "myservice: Healthy",
    f"mlnb service score myservice '{SEED}'": "[",
    "mlnb service logs myservice --tail 20": "[mlnb]",
    "mlnb service delete myservice": "deleted myservice",
}

TINY_SCRIPT = """\
import os

def init():
    global models
    models = sorted(os.listdir(os.environ["AZUREML_MODEL_DIR"]))

def run(data):
    return {"models": models, "bytes": len(data)}
"""


# -- extraction ------------------------------------------------------------------------


def documented_commands() -> list[tuple[str, str]]:
    """Every ``(document, command)`` in the documents' shell blocks, in document order."""
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for block in re.finditer(r"^```([^\n`]*)\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            language = block[1].strip().lower()
            if language and language not in SHELL_LANGUAGES:
                continue
            for line in re.sub(r"\\\n\s*", "", block[2]).splitlines():
                command = _strip_comment(line.strip().removeprefix("$ ").strip())
                if command and (language or command.startswith(PROGRAMS)):
                    found.append((document.relative_to(ROOT).as_posix(), command))
    return found


def _strip_comment(line: str) -> str:
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line


def test_every_documented_command_is_listed() -> None:
    documented = set(documented_commands())
    unlisted = sorted(documented - set(COMMANDS))
    stale = sorted(set(COMMANDS) - documented)
    assert not unlisted, (
        "commands in the docs that this test neither runs nor skips; add each to COMMANDS as RUN, "
        f"parse(reason), SYNOPSIS or skip(reason): {unlisted}"
    )
    assert not stale, f"COMMANDS lists commands the docs no longer hold; remove them: {stale}"


def test_extraction_finds_what_it_should(tmp_path: Path) -> None:
    commands = [command for _, command in documented_commands()]
    assert "mlnb model list" in commands and "make demo" in commands
    assert not any(command.startswith(("%", "registry.db", "Dockerfile")) for command in commands)
    assert _strip_comment("mlnb serve --x y   # debug 'it'") == "mlnb serve --x y"
    assert _strip_comment("mlnb service score s '{\"a\": \"#1\"}'") == "mlnb service score s '{\"a\": \"#1\"}'"


# -- parse and synopsis ----------------------------------------------------------------


def _of_kind(kind: str) -> list[tuple[str, str]]:
    return [(doc, command) for (doc, command), (k, _) in COMMANDS.items() if k == kind]


@pytest.mark.parametrize(("document", "command"), _of_kind("parse"), ids=lambda value: str(value)[:60])
def test_parsed_commands_are_accepted(document: str, command: str) -> None:
    words = shlex.split(command)
    if words[:3] == ["python", "-m", "mlnb.serving"]:
        parse_settings(words[3:], environ={})
    else:
        assert words[0] == "mlnb", f"{document}: no parser known for {command!r}"
        build_parser().parse_args(words[1:])


@pytest.mark.parametrize(("document", "command"), _of_kind("synopsis"), ids=lambda value: str(value)[:60])
def test_synopsis_options_exist(document: str, command: str) -> None:
    words = command.split()
    assert words[0] == "mlnb"
    path = [w for w in words[1:4] if re.fullmatch(r"[a-z]+", w)]
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
        mlnb_main([*path, "--help"])
    for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", command):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text.getvalue()), (
            f"{document}: `{' '.join(['mlnb', *path])}` has no option {option}"
        )


# -- running ---------------------------------------------------------------------------


def _setup_readme(folder: Path, model_file: Path, score_script: str) -> None:
    (folder / "outputs").mkdir()
    shutil.copyfile(model_file, folder / "outputs" / "sklearn_regression_model.pkl")
    (folder / "src").mkdir()
    (folder / "src" / "score.py").write_text(score_script)
    (folder / "requests.jsonl").write_text(SEED + "\n")


def _setup_serving(folder: Path, model_file: Path, score_script: str) -> None:
    (folder / "score.py").write_text(TINY_SCRIPT)
    model_dir = folder / "azureml-models" / "sklearn_mnist" / "1"
    model_dir.mkdir(parents=True)
    (model_dir / "model.pkl").write_bytes(b"weights")


SETUP: dict[str, Callable[[Path, Path, str], None]] = {"README.md": _setup_readme, "docs/serving.md": _setup_serving}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _argv(words: list[str]) -> list[str]:
    if words[0] == "mlnb":
        return [sys.executable, "-m", "mlnb.cli", *words[1:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    raise AssertionError(f"no way to run {words[0]!r} here; mark the command skip(reason)")


def _is_server(words: list[str]) -> bool:
    return words[:2] == ["mlnb", "serve"] or words[:3] == ["python", "-m", "mlnb.serving"]


def _serve(argv: list[str], folder: Path, env: dict[str, str], payload: str) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [*argv, "--port", str(port)], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the server did not answer within 60 s"
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        answer = requests.post(f"http://127.0.0.1:{port}/score", data=payload, timeout=30,
                               headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output


@pytest.fixture()
def run_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in {"MLNB_WORKSPACE", "AZUREML_MODEL_DIR", "MLNB_MODEL_DIR"}}
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # no engine: backend="auto" picks the process backend
    yield env


@pytest.mark.parametrize("document", sorted({doc for doc, _ in _of_kind("run")}))
def test_documented_commands_run(
    document: str, tmp_path: Path, run_env: dict[str, str], diabetes_model_file: Path, seed_score_script: str
) -> None:
    SETUP[document](tmp_path, diabetes_model_file, seed_score_script)
    commands = [command for doc, command in documented_commands() if doc == document and COMMANDS[(doc, command)] == RUN]
    assert commands
    try:
        for command in commands:
            words = shlex.split(command)
            if _is_server(words):
                _serve(_argv(words), tmp_path, run_env, SEED if document == "README.md" else json.dumps({"x": 1}))
                continue
            result = subprocess.run(_argv(words), cwd=tmp_path, env=run_env, capture_output=True, text=True,
                                    check=False, timeout=300)
            assert result.returncode == 0, f"{document}: `{command}` failed:\n{result.stdout}\n{result.stderr}"
            assert EXPECT.get(command, "") in result.stdout, f"{document}: `{command}` printed:\n{result.stdout}"
    finally:
        if (tmp_path / ".mlnb").is_dir():
            from mlnb import Webservice, Workspace

            for service in Webservice.list(Workspace(tmp_path / ".mlnb")):
                service.delete()
