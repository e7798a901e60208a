"""Build contexts: Dockerfile, wheelhouse and file layout, without a Docker engine.

One real ``pip download`` of a tiny pure-Python package (six) fills a wheelhouse cache
shared by the whole session; the serving runtime's own (large) requirements are
replaced by nothing here and exercised for real in tests/docker/test_packaging_image.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import mlnb.image._context as packaging
from mlnb.config import Environment, InferenceConfig
from mlnb.errors import DependencyResolutionFailed, InvalidConfiguration
from mlnb.image import assemble_context, build_wheelhouse, render_dockerfile, resolve_base_image, runtime_requirements

SCORE = "import os\n\ndef init():\n    pass\n\ndef run(data):\n    return data\n"


@dataclass
class LocalModel:
    """A registered model over a plain file or folder, as the registry's Model materializes."""

    name: str
    version: int
    path: Path

    @property
    def artifact_name(self) -> str:
        return self.path.name

    def materialize(self, target_dir: Path) -> Path:
        target = target_dir / self.artifact_name
        if self.path.is_dir():
            shutil.copytree(self.path, target, copy_function=os.link)
        else:
            os.link(self.path, target)
        return target


@pytest.fixture(scope="session")
def wheelhouse_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache") / "wheelhouse"


@pytest.fixture(autouse=True)
def no_runtime_requirements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packaging, "runtime_requirements", lambda **_: ())


@pytest.fixture()
def service(tmp_path: Path) -> tuple[list[LocalModel], InferenceConfig]:
    source = tmp_path / "src"
    (source / "lib").mkdir(parents=True)
    (source / "score.py").write_text(SCORE)
    (source / "lib" / "helper.py").write_text("X = 1\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "score.cpython-311.pyc").write_bytes(b"\0")
    (source / ".mlnb").mkdir()
    (source / ".mlnb" / "registry.db").write_bytes(b"\0")
    blob = tmp_path / "registry" / "model.pkl"
    blob.parent.mkdir()
    blob.write_bytes(b"weights")
    return [LocalModel("diabetes", 3, blob)], InferenceConfig("score.py", source_directory=source)


def tree(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file of a directory: relative path → (content hash, mode)."""
    return {
        path.relative_to(directory).as_posix(): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode & 0o777)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def assemble(models: list[LocalModel], config: InferenceConfig, target: Path, cache: Path, **kwargs: object) -> packaging.BuildContext:
    kwargs.setdefault("requirements", ["six"])
    kwargs.setdefault("log", lambda _: None)
    return assemble_context(models, config, target_dir=target, wheelhouse_cache=cache, base_image="base:1", **kwargs)  # type: ignore[arg-type]


def test_dockerfile_layers_run_from_least_to_most_often_changed() -> None:
    text = render_dockerfile(base_image="mlnb-base:bookworm", entry_script="x/score.py", model_dir="/var/azureml-app/azureml-models/m/1")

    order = [
        "FROM mlnb-base:bookworm AS dependencies", "COPY wheels/", "COPY requirements.txt", "--no-index --find-links",
        "\nFROM mlnb-base:bookworm\n", "COPY --from=dependencies", "COPY runtime/", "COPY models/ /var/azureml-app/azureml-models/",
        "COPY source/ /var/azureml-app/", 'AZUREML_ENTRY_SCRIPT="x/score.py"', "USER mlnb", "EXPOSE 5001",
        '"--port", "5001"',
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert 'AZUREML_MODEL_DIR="/var/azureml-app/azureml-models/m/1"' in text
    assert "python3 -m venv --without-pip /opt/mlnb/venv" in text
    assert "v == (3, 11)" in text


def test_final_stage_keeps_no_wheels_installer_or_test_suites() -> None:
    text = render_dockerfile(base_image="b", entry_script="score.py", model_dir="/m")
    final = text[text.index("\nFROM b\n"):]

    assert "--no-cache-dir" in text and "-name tests -prune -exec rm -rf" in text
    assert "/opt/mlnb/installer/bin/pip --python /opt/mlnb/venv/bin/python install" in text
    assert "wheels" not in final and "installer" not in final
    assert final.count("COPY --from=dependencies") == 1


def test_dockerfile_quotes_environment_values() -> None:
    text = render_dockerfile(base_image="b", entry_script='my "odd" $core.py', model_dir="/m")

    assert 'AZUREML_ENTRY_SCRIPT="my \\"odd\\" \\$core.py"' in text


def test_base_image_comes_from_config_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLNB_BASE_IMAGE", raising=False)
    assert resolve_base_image(python_version="3.12") == "python:3.12-slim"
    monkeypatch.setenv("MLNB_BASE_IMAGE", "mlnb-base:bookworm")
    assert resolve_base_image() == "mlnb-base:bookworm"
    assert resolve_base_image("custom:1") == "custom:1"


def test_wheelhouse_is_downloaded_once_then_cached(wheelhouse_cache: Path) -> None:
    lines: list[str] = []

    first = build_wheelhouse(["six"], cache_dir=wheelhouse_cache, log=lines.append)
    second = build_wheelhouse(["six"], cache_dir=wheelhouse_cache, log=lines.append)

    assert first == second
    assert [w.name.split("-")[0] for w in first.glob("*.whl")] == ["six"]
    assert (first / "requirements.txt").read_text() == "six\n"
    assert any(line.startswith("pip: ") for line in lines)
    assert "cached" in lines[-1]
    assert [p.name for p in wheelhouse_cache.iterdir() if p.name.startswith(".")] == []


def test_wheelhouse_key_depends_on_python_version(wheelhouse_cache: Path) -> None:
    with pytest.raises(InvalidConfiguration, match="python_version"):
        build_wheelhouse(["six"], cache_dir=wheelhouse_cache, python_version="three")


def test_interrupted_download_leaves_no_cache_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(directory: Path, python_version: str, log: object) -> None:
        (directory / "half.whl").write_bytes(b"")
        raise KeyboardInterrupt

    monkeypatch.setattr(packaging, "_pip_download", interrupted)

    with pytest.raises(KeyboardInterrupt):
        build_wheelhouse(["six"], cache_dir=tmp_path, log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_unresolvable_requirement_is_named_with_pips_reason(tmp_path: Path) -> None:
    with pytest.raises(DependencyResolutionFailed) as info:
        build_wheelhouse(["mlnb-no-such-distribution-x7==0.0.1"], cache_dir=tmp_path, log=lambda _: None)

    message = str(info.value)
    assert "cannot resolve 'mlnb-no-such-distribution-x7==0.0.1'" in message
    assert "Could not find a version" in message
    assert "Pin a version" in message
    assert list(tmp_path.iterdir()) == []


def test_context_layout(tmp_path: Path, wheelhouse_cache: Path, service: tuple) -> None:
    models, config = service

    context = assemble(models, config, tmp_path / "ctx", wheelhouse_cache)

    files = set(tree(context.directory))
    assert {"Dockerfile", "requirements.txt", "models/diabetes/3/model.pkl", "source/score.py", "source/lib/helper.py",
            "runtime/mlnb/__init__.py", "runtime/mlnb/serving/__main__.py"} <= files
    assert not any("__pycache__" in f or ".mlnb/" in f for f in files)
    assert [f for f in files if f.startswith("wheels/")] == [f"wheels/{w.name}" for w in context.wheelhouse.glob("*.whl")]
    assert (context.directory / "runtime/mlnb/__init__.py").read_text() == ""
    assert (context.directory / "Dockerfile").read_text() == context.dockerfile
    assert 'AZUREML_MODEL_DIR="/var/azureml-app/azureml-models/diabetes/3"' in context.dockerfile
    assert "FROM base:1" in context.dockerfile
    assert context.requirements == ("six",) and context.requirements_origin == "given"
    assert context.labels["mlnb.models"] == "diabetes:3"


def test_context_is_deterministic_and_a_script_change_touches_only_the_source(tmp_path: Path, wheelhouse_cache: Path, service: tuple) -> None:
    models, config = service
    first = tree(assemble(models, config, tmp_path / "a", wheelhouse_cache).directory)
    again = tree(assemble(models, config, tmp_path / "b", wheelhouse_cache).directory)
    config.entry_script_path.write_text(SCORE + "# changed\n")
    changed = tree(assemble(models, config, tmp_path / "c", wheelhouse_cache).directory)

    assert first == again
    assert {path for path in first if first[path] != changed.get(path)} == {"source/score.py"}


def test_digest_names_the_content_and_changes_with_any_file(tmp_path: Path, wheelhouse_cache: Path, service: tuple) -> None:
    models, config = service
    first = assemble(models, config, tmp_path / "a", wheelhouse_cache)
    again = assemble(models, config, tmp_path / "b", wheelhouse_cache)
    (config.source_directory / "lib" / "helper.py").write_text("X = 2\n")
    changed = assemble(models, config, tmp_path / "c", wheelhouse_cache)
    os.chmod(config.source_directory / "lib" / "helper.py", 0o755)
    executable = assemble(models, config, tmp_path / "d", wheelhouse_cache)

    assert first.digest == again.digest == packaging.context_digest(tmp_path / "a")
    assert len({first.digest, changed.digest, executable.digest}) == 3


def test_several_models_share_the_models_root(tmp_path: Path, wheelhouse_cache: Path, service: tuple) -> None:
    models, config = service
    folder = tmp_path / "onnx"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"onnx")

    context = assemble([*models, LocalModel("mnist", 1, folder)], config, tmp_path / "ctx", wheelhouse_cache)

    assert 'AZUREML_MODEL_DIR="/var/azureml-app/azureml-models"' in context.dockerfile
    assert (context.directory / "models/mnist/1/onnx/model.onnx").read_bytes() == b"onnx"
    with pytest.raises(InvalidConfiguration, match="name one model version twice"):
        assemble([*models, *models], config, tmp_path / "ctx2", wheelhouse_cache)


def test_unreadable_model_files_are_copied_not_chmodded(tmp_path: Path, wheelhouse_cache: Path, service: tuple) -> None:
    models, config = service
    models[0].path.chmod(0o600)

    context = assemble(models, config, tmp_path / "ctx", wheelhouse_cache)

    assert (context.directory / "models/diabetes/3/model.pkl").stat().st_mode & 0o777 == 0o644
    assert models[0].path.stat().st_mode & 0o777 == 0o600


def test_target_must_be_new_empty_or_an_earlier_context(tmp_path: Path, wheelhouse_cache: Path, service: tuple) -> None:
    models, config = service
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InvalidConfiguration, match="not empty and not an mlnb build context"):
        assemble(models, config, foreign, wheelhouse_cache)

    target = tmp_path / "ctx"
    assemble(models, config, target, wheelhouse_cache)
    (target / "stale").write_text("old")
    assemble(models, config, target, wheelhouse_cache)
    assert not (target / "stale").exists()
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []


def test_requirements_come_from_the_environment_with_its_notes_logged(tmp_path: Path, wheelhouse_cache: Path, service: tuple) -> None:
    models, config = service
    env = Environment("pinned", python_version="3.6.2", pip_requirements=["six"], conda_dependencies=["pip"])
    config = InferenceConfig("score.py", source_directory=config.source_directory, environment=env)
    lines: list[str] = []

    context = assemble(models, config, tmp_path / "ctx", wheelhouse_cache, requirements=None, log=lines.append)

    assert context.service_requirements == ("six",)
    assert context.requirements_origin == "environment 'pinned'"
    assert any("asks for Python 3.6.2; the image runs Python 3.11" in line for line in lines)
    assert any("'pip' dropped" in line for line in lines)


def test_without_an_environment_requirements_are_inferred_and_logged(tmp_path: Path, wheelhouse_cache: Path, service: tuple) -> None:
    models, config = service
    config.entry_script_path.write_text("import not_installed_anywhere\n" + SCORE)
    lines: list[str] = []

    context = assemble(models, config, tmp_path / "ctx", wheelhouse_cache, requirements=None, log=lines.append)

    assert context.requirements_origin == "inferred"
    assert context.service_requirements == ()
    assert "Requirements (inferred): none" in lines
    assert any("'not_installed_anywhere'" in line for line in lines)


def test_pyarrow_is_a_runtime_requirement_only_of_collecting_services() -> None:
    # The package's name for it: the real function (the fixture above patches the module's).
    without = runtime_requirements()
    collecting = runtime_requirements(collect_data=True)
    assert not any(line.startswith("pyarrow") for line in without)
    assert collecting[: len(without)] == without
    assert [line for line in collecting[len(without):] if line.startswith("pyarrow")] == ["pyarrow>=15,<27"]


def test_ignored_files_stay_out_and_a_large_source_is_warned_about(
    tmp_path: Path, wheelhouse_cache: Path, service: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    models, config = service
    source = config.source_directory
    (source / "analysis.ipynb").write_text("{}")
    (source / "model.pkl").write_bytes(b"\0" * 1_200_000)
    (source / "data.csv").write_bytes(b"1," * 1_000_000)
    (source / ".amlignore").write_text("*.ipynb\n*.pkl\n")
    monkeypatch.setenv("MLNB_SOURCE_WARN_MB", "1")
    lines: list[str] = []

    context = assemble(models, config, tmp_path / "ctx", wheelhouse_cache, log=lines.append)

    shipped = {f for f in tree(context.directory) if f.startswith("source/")}
    assert shipped == {"source/.amlignore", "source/score.py", "source/lib/helper.py", "source/data.csv"}
    warnings = [line for line in lines if line.startswith("[mlnb] warning: the source directory")]
    assert len(warnings) == 1 and "ships 2.0 MB in 4 files (over 1 MB; biggest: data.csv (2.0 MB)" in warnings[0]
