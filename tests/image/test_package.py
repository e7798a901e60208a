"""``Model.package`` / ``ModelPackage`` without a Docker engine: the Dockerfile path, the
errors, and an engine that does not answer (the image path is built for real in
tests/docker/test_packaging_image.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import mlnb.image._context as context
from mlnb import Environment, InferenceConfig, Model, ModelPackage, Workspace
from mlnb.cli import main
from mlnb.errors import DockerUnavailable, InvalidConfiguration, PackagingFailed


@pytest.fixture(autouse=True)
def no_runtime_requirements(monkeypatch: pytest.MonkeyPatch) -> None:
    """The serving runtime's (large) wheels are resolved for real in the Docker tests."""
    monkeypatch.setattr(context, "runtime_requirements", lambda **_: ())


def _config(source: Path) -> InferenceConfig:
    return InferenceConfig("score.py", source_directory=source, environment=Environment("empty"))


def test_a_dockerfile_package_saves_a_complete_context(project: tuple[Workspace, Model, Path], tmp_path: Path) -> None:
    workspace, model, source = project
    package = Model.package(workspace, [model], _config(source), generate_dockerfile=True)
    shown = io.StringIO()
    package.wait_for_creation(show_output=True, out=shown)

    assert package.state == "Succeeded" and package.location is None and package.error is None
    assert "Requirements" in shown.getvalue() and shown.getvalue() == package.get_logs()
    saved = package.save(tmp_path / "imagefiles")
    assert (saved / "Dockerfile").is_file()
    assert (saved / "source" / "score.py").read_text() == (source / "score.py").read_text()
    assert list((saved / "models").rglob("sklearn_regression_model.pkl"))
    assert "Succeeded" in package._repr_html_() and "call .save(DIR)" in package._repr_html_()


def test_saving_into_a_folder_with_files_is_refused(project: tuple[Workspace, Model, Path], tmp_path: Path) -> None:
    workspace, model, source = project
    package = Model.package(workspace, [model], _config(source), generate_dockerfile=True)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidConfiguration, match="not empty"):
        package.save(tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


def test_an_image_package_without_an_engine_fails_with_the_reason(
    project: tuple[Workspace, Model, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, model, source = project
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # the discard port: nothing answers
    package = ModelPackage(workspace, [model], _config(source))
    with pytest.raises(DockerUnavailable, match="no Docker engine answers"):
        package.wait_for_creation()
    assert package.state == "Failed" and package.location is None
    assert "no Docker engine answers" in package.get_logs()


@pytest.mark.parametrize(
    ("models", "config", "message"),
    [
        ([], "ok", "non-empty list"),
        ("model", "not a config", "must be an mlnb.InferenceConfig"),
    ],
)
def test_bad_arguments_are_refused_at_once(project: tuple[Workspace, Model, Path], models: object, config: object, message: str) -> None:
    workspace, model, source = project
    chosen_models = [model] if models == "model" else models
    chosen_config = _config(source) if config == "ok" else config
    with pytest.raises(InvalidConfiguration, match=message):
        ModelPackage(workspace, chosen_models, chosen_config)  # type: ignore[arg-type]  # the mistakes under test


def test_a_dockerfile_package_has_no_image_to_push(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    package = Model.package(workspace, [model], _config(source), generate_dockerfile=True)
    with pytest.raises(InvalidConfiguration, match="generate_dockerfile=False to push"):
        package.push("127.0.0.1:5000")


@pytest.fixture()
def buggy_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug while the context is assembled (an exception no mlnb code expects), not a user mistake."""

    def copy_runtime(destination: Path) -> None:
        raise FileNotFoundError(2, "No such file or directory", "lookup.csv")

    monkeypatch.setattr(context, "_copy_runtime", copy_runtime)


def test_an_unexpected_error_fails_the_package_and_keeps_its_traceback(project: tuple[Workspace, Model, Path], buggy_build: None) -> None:
    workspace, model, source = project
    package = Model.package(workspace, [model], _config(source), generate_dockerfile=True)
    with pytest.raises(PackagingFailed, match="FileNotFoundError") as raised:
        package.wait_for_creation()
    assert isinstance(raised.value.__cause__, FileNotFoundError)
    assert package.state == "Failed" and package.location is None and package.error is raised.value
    logs = package.get_logs()
    assert "Traceback (most recent call last):" in logs and "lookup.csv" in logs
    with pytest.raises(PackagingFailed):
        package.wait_for_creation()  # a second wait raises the same error
    assert "Failed" in package._repr_html_()


def test_the_cli_exits_non_zero_when_packaging_breaks(
    project: tuple[Workspace, Model, Path], capsys: pytest.CaptureFixture[str], buggy_build: None
) -> None:
    workspace, model, source = project
    status = main(["package", "-w", str(workspace.path.parent), "-m", model.id, "--entry-script", "score.py", "--source-dir", str(source)])
    captured = capsys.readouterr()
    assert status == 1
    assert "image None" not in captured.out
    assert "mlnb: error:" in captured.err and "FileNotFoundError" in captured.err
