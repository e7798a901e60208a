"""Environment: conda YAML, requirements files and lists become one pip requirement list."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlnb.config import Environment, read_requirements_file
from mlnb.errors import InvalidConfiguration

SEED_CONDA = """\
name: project_environment
dependencies:
  - python=3.6.2
  - scikit-learn=0.20.0
  - pip:
    - azureml-defaults
    - inference-schema[numpy-support]
"""


def test_seed_conda_file_maps_python_conda_and_pip_sections(tmp_path: Path) -> None:
    path = tmp_path / "myenv.yml"
    path.write_text(SEED_CONDA)

    env = Environment.from_conda_specification("myenv", path)

    assert env.name == "myenv"
    assert env.python_version == "3.6.2"
    assert env.requirements == ("inference-schema[numpy-support]", "scikit-learn==0.20.0.*")
    assert any("azureml-defaults" in note for note in env.notes)


def test_conda_only_packages_are_dropped_with_a_note_and_renamed_ones_mapped() -> None:
    env = Environment(
        "e", conda_dependencies=["pip", "conda-forge::numpy=1.26", "pytorch>=2", "pandas 2.2.1 py311_0", "mkl"]
    )

    assert env.requirements == ("numpy==1.26.*", "pandas==2.2.1", "torch>=2")
    assert any("'pip' dropped" in note for note in env.notes)
    assert any("'mkl' dropped" in note for note in env.notes)
    assert any("'torch'" in note for note in env.notes)


def test_a_pinned_conda_package_and_a_bare_pip_one_merge_into_the_pin() -> None:
    env = Environment("e", conda_dependencies=["numpy=1.26"], pip_requirements=["numpy", "NumPy"])

    assert env.requirements == ("numpy==1.26.*",)


def test_contradicting_requirements_are_refused() -> None:
    with pytest.raises(InvalidConfiguration, match=r"numpy is required twice .*keep one"):
        Environment("e", pip_requirements=["numpy==1.26", "numpy==2.0"])


def test_hash_is_stable_across_order_and_name_but_not_content() -> None:
    a = Environment.from_pip_packages("a", ["pandas", "numpy==2.0"], python_version="3.11")
    b = Environment.from_pip_packages("b", ["numpy==2.0", "pandas"], python_version="3.11")
    c = Environment.from_pip_packages("a", ["numpy==2.1", "pandas"], python_version="3.11")

    assert a.hash == b.hash
    assert a.hash != c.hash
    assert len(a.hash) == 64


def test_serialize_round_trips() -> None:
    env = Environment("e", python_version="3.11", pip_requirements=["joblib"], conda_dependencies=["numpy=1.26"])

    again = Environment.deserialize(env.serialize())

    assert again == env
    assert again.requirements == env.requirements


def test_deserialize_accepts_azure_environment_definitions() -> None:
    data = {"name": "myenv", "python": {"condaDependencies": {"dependencies": ["python=3.11", {"pip": ["joblib"]}]}}}

    env = Environment.deserialize(data)

    assert (env.python_version, env.requirements) == ("3.11", ("joblib",))


def test_requirements_file_with_comments_continuations_and_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("numpy>=1.24  # arrays\n")
    (tmp_path / "requirements.txt").write_text("# serving\n-r base.txt\n\nscikit-learn\\\n==1.5.2\n")

    env = Environment.from_pip_requirements("r", tmp_path / "requirements.txt")

    assert env.requirements == ("numpy>=1.24", "scikit-learn==1.5.2")


def test_requirements_file_options_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("numpy\n--index-url https://example.org/simple\n")

    with pytest.raises(InvalidConfiguration, match=r"requirements.txt:2: pip option '--index-url'"):
        read_requirements_file(path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pip_requirements": ["numpy>>1"]}, "invalid requirement 'numpy>>1'"),
        ({"pip_requirements": ["pkg @ https://example.org/pkg.whl"]}, "points at a URL"),
        ({"pip_requirements": "numpy"}, "list of strings"),
        ({"python_version": "2.7"}, "python_version"),
        ({"python_version": "3.11", "conda_dependencies": ["python=3.10"]}, "disagrees"),
    ],
)
def test_invalid_values_are_refused_with_one_clear_line(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidConfiguration, match=message) as info:
        Environment("e", **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("dependencies: [numpy\n", "not valid YAML"),
        ("name: x\n", "no 'dependencies' list"),
        ("dependencies:\n  - {conda: [x]}\n", "unsupported dependency entry"),
    ],
)
def test_bad_conda_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "env.yml"
    path.write_text(content)

    with pytest.raises(InvalidConfiguration, match=message):
        Environment.from_conda_specification("e", path)


def test_missing_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfiguration, match="cannot read conda file .*nope.yml"):
        Environment.from_conda_specification("e", tmp_path / "nope.yml")


@pytest.mark.parametrize("version", ["3.11\n", "3.11.4\n", "3.1١", " 3.11", "3", "3.11.4.1"])
def test_python_versions_are_checked_whole(version: str) -> None:
    with pytest.raises(InvalidConfiguration, match="python_version"):
        Environment("e", python_version=version)
