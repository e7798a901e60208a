"""``azureml.core.environment``: ``Environment`` and its ``python`` and ``docker`` sections.

An Environment says what a service runs with. Locally it becomes an :class:`mlnb.Environment`
(a Python version and pip requirements) when a model is deployed or packaged:

- ``python.conda_dependencies`` (a :class:`CondaDependencies`): its conda packages and pip
  packages become the requirements; pip options and channels are dropped with a note;
- ``python.conda_dependencies_file``: a conda YAML in the source directory, read the same way;
- ``python.user_managed_dependencies = True``: nothing is installed beyond mlnb's runtime;
- ``docker.base_image``: the image to build on, unless it is one of Azure's own
  (``mcr.microsoft.com/azureml/…``), which cannot be pulled here: mlnb's base image
  (``MLNB_BASE_IMAGE``) is used instead;
- ``environment_variables``: set in the service, as Azure does;
- a curated environment (``Environment.get(ws, "AzureML-…")`` that was never registered
  locally): the service's requirements are inferred from its imports, with a note.

``Environment.register(ws)`` keeps the definition in ``.mlnb/azureml/environments/``.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from mlnb.compat.azureml._cloud import refuse
from mlnb.compat.azureml._conda import PYTHON_DEFAULT_VERSION, CondaDependencies
from mlnb.compat.azureml._container_registry import ContainerRegistry
from mlnb.compat.azureml._notes import note, note_unused
from mlnb.compat.azureml._protocol import AzureWorkspace, local_workspace
from mlnb.compat.azureml._store import Store
from mlnb.config import Environment as LocalEnvironment
from mlnb.config import read_requirements_file
from mlnb.errors import InvalidConfiguration

__all__ = ["DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE", "DockerSection", "Environment", "PythonSection"]

DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20251130.v1"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"
_AZURE_IMAGES = "mcr.microsoft.com/azureml/"
_CURATED_PREFIX = "AzureML-"
_KIND = "environments"
_DEFINITION_FILE = "azureml_environment.json"
_CONDA_FILE = "conda_dependencies.yml"


class PythonSection:
    """The Python side of an environment: its conda specification, or that the user manages it."""

    def __init__(self, **kwargs: Any) -> None:
        self.conda_dependencies: CondaDependencies | None = kwargs.pop("_conda_dependencies", None)
        self.user_managed_dependencies: bool = False
        self.interpreter_path: str = "python"
        self.base_conda_environment: str | None = None
        self._conda_dependencies_file: str | None = None
        _no_more("PythonSection", kwargs)

    @property
    def conda_dependencies_file(self) -> str | None:
        """A conda YAML, relative to the source directory, used instead of :attr:`conda_dependencies`."""
        return self._conda_dependencies_file

    @conda_dependencies_file.setter
    def conda_dependencies_file(self, value: str | None) -> None:
        self._conda_dependencies_file = value

    def _serialize(self) -> dict[str, Any]:
        return {
            "baseCondaEnvironment": self.base_conda_environment,
            "condaDependencies": self.conda_dependencies.as_dict() if self.conda_dependencies is not None else None,
            "condaDependenciesFile": self._conda_dependencies_file,
            "interpreterPath": self.interpreter_path,
            "userManagedDependencies": self.user_managed_dependencies,
        }


class DockerSection:
    """The image side of an environment: base image or Dockerfile, and run options."""

    def __init__(self, **kwargs: Any) -> None:
        self._base_image: str | None = DEFAULT_CPU_IMAGE
        self._base_dockerfile: str | None = None
        self._enabled = False
        self._gpu_support = False
        self._shm_size: str | None = "2g"
        self._arguments: list[str] = []
        self.base_image_registry = ContainerRegistry()
        _no_more("DockerSection", kwargs)

    @property
    def base_image(self) -> str | None:
        """The image to build on (Azure's default is its own, which mlnb replaces by ``MLNB_BASE_IMAGE``)."""
        return self._base_image

    @base_image.setter
    def base_image(self, value: str | None) -> None:
        self._base_image = value
        if value is not None:
            self._base_dockerfile = None

    @property
    def base_dockerfile(self) -> str | None:
        """A Dockerfile (text or path) to build the base from; mlnb cannot deploy one (it builds on a base image)."""
        return self._base_dockerfile

    @base_dockerfile.setter
    def base_dockerfile(self, value: str | None) -> None:
        self._base_dockerfile = value
        if value is not None:
            self._base_image = None

    @property
    def enabled(self) -> bool:
        """Azure's switch for running in Docker; mlnb's backend decides that (``LocalWebservice.deploy_configuration``)."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = bool(value)

    @property
    def gpu_support(self) -> bool:
        """Deprecated in Azure; there are no GPUs locally."""
        return self._gpu_support

    @gpu_support.setter
    def gpu_support(self, value: bool) -> None:
        self._gpu_support = bool(value)

    @property
    def shm_size(self) -> str | None:
        """The container's shared memory size (Azure's ``2g``); mlnb leaves Docker's default."""
        return self._shm_size

    @shm_size.setter
    def shm_size(self, value: str | None) -> None:
        self._shm_size = value

    @property
    def arguments(self) -> list[str]:
        """Extra ``docker run`` arguments; mlnb does not pass them."""
        return self._arguments

    @arguments.setter
    def arguments(self, value: list[str]) -> None:
        self._arguments = list(value)

    def _serialize(self) -> dict[str, Any]:
        registry = self.base_image_registry
        return {
            "arguments": list(self._arguments),
            "baseDockerfile": self._base_dockerfile,
            "baseImage": self._base_image,
            "baseImageRegistry": {"address": registry.address, "password": registry.password, "registryIdentity": None,
                                  "username": registry.username},
            "buildContext": None,
            "enabled": self._enabled,
            "platform": {"architecture": "amd64", "os": "Linux"},
            "sharedVolumes": True,
            "shmSize": self._shm_size,
        }


class Environment:
    """An Azure ML environment: what a service runs with.

    Args:
        name: the environment's name.
        **kwargs: Azure's internal ``_skip_defaults`` (no template dependencies, no example
            variable); nothing else.

    Example:
        >>> env = Environment("myenv")
        >>> env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn"])
        >>> env.register(ws).version
        '1'
    """

    def __init__(self, name: str, **kwargs: Any) -> None:
        skip_defaults = bool(kwargs.pop("_skip_defaults", False))
        _no_more("Environment", kwargs)
        if not isinstance(name, str) or not name.strip():
            raise InvalidConfiguration(f"invalid environment name {name!r}, expected a non-empty string")
        self.name = name
        self.version: str | None = None
        self.python = PythonSection(_conda_dependencies=None if skip_defaults else CondaDependencies())
        self.docker = DockerSection()
        self._environment_variables: dict[str, str] = {} if skip_defaults else {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
        self.inferencing_stack_version: str | None = None
        self._curated = False

    @property
    def environment_variables(self) -> dict[str, str]:
        """Variables set in the service."""
        return self._environment_variables

    @environment_variables.setter
    def environment_variables(self, value: dict[str, str]) -> None:
        self._environment_variables = dict(value)

    # -- factories -----------------------------------------------------------------------

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment from a conda YAML (its Python version defaults to 3.10.18 when it pins none)."""
        dependencies = CondaDependencies(conda_dependencies_file_path=file_path)
        if dependencies.get_python_version() is None:
            dependencies.set_python_version(PYTHON_DEFAULT_VERSION)
        environment = Environment(name)
        environment.python.conda_dependencies = dependencies
        return environment

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike[str], pip_version: str | None = None) -> Environment:
        """An environment from a pip requirements file (``-r`` includes followed), with conda's ``pip``."""
        environment = Environment(name)
        dependencies = environment.python.conda_dependencies
        assert dependencies is not None  # made by Environment(name)
        dependencies.remove_pip_package("azureml-defaults")
        for requirement in read_requirements_file(Path(file_path)):
            dependencies.add_pip_package(requirement)
        dependencies.add_conda_package(f"pip={pip_version}" if pip_version else "pip")
        return environment

    @staticmethod
    def from_docker_image(name: str, image: str, container_registry: ContainerRegistry | None = None,
                          conda_specification: str | None = None, pip_requirements: str | None = None) -> Environment:
        """An environment on a given base image; without a conda or pip file, its dependencies are the image's own."""
        if conda_specification is not None:
            environment = Environment.from_conda_specification(name, conda_specification)
        elif pip_requirements is not None:
            environment = Environment.from_pip_requirements(name, pip_requirements)
        else:
            environment = Environment(name)
            environment.python.user_managed_dependencies = True
        environment.docker.base_image = image
        if container_registry is not None:
            environment.docker.base_image_registry = container_registry
        return environment

    @staticmethod
    def from_dockerfile(name: str, dockerfile: str, conda_specification: str | None = None,
                        pip_requirements: str | None = None) -> Environment:
        """An environment built from a Dockerfile (text or path); mlnb refuses to deploy it (see :attr:`DockerSection.base_dockerfile`)."""
        if conda_specification is not None:
            environment = Environment.from_conda_specification(name, conda_specification)
        elif pip_requirements is not None:
            environment = Environment.from_pip_requirements(name, pip_requirements)
        else:
            environment = Environment(name)
            environment.python.user_managed_dependencies = True
        environment.docker.base_dockerfile = Path(dockerfile).read_text() if Path(dockerfile).is_file() else dockerfile
        return environment

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str) -> Environment:
        """Not mapped: mlnb reads conda YAML files, not conda installations.

        Raises:
            InvalidConfiguration: always, with the two commands that do it.
        """
        raise InvalidConfiguration(
            f"mlnb reads conda files, not conda installations: run `conda env export -n {conda_environment_name} > env.yml`, "
            f"then Environment.from_conda_specification({name!r}, 'env.yml')"
        )

    @staticmethod
    def add_private_pip_wheel(workspace: AzureWorkspace, file_path: str, exist_ok: bool = False) -> str:
        """Cloud only: Azure uploads the wheel to the workspace's storage."""
        refuse("Environment.add_private_pip_wheel()", "put the wheel in a folder pip finds (pip's find-links) "
               "and add the package by name")

    # -- the workspace's environments ----------------------------------------------------

    def register(self, workspace: AzureWorkspace) -> Environment:
        """Keep this definition in the workspace as the next version of its name.

        Registering an unchanged definition returns the version that holds it.

        Returns:
            The registered environment, with :attr:`version` set.
        """
        version = Store(local_workspace(workspace)).add_version(_KIND, self.name, self._serialize())
        registered = self.clone(self.name)
        registered.version = str(version)
        return registered

    @staticmethod
    def get(workspace: AzureWorkspace, name: str, version: str | None = None, label: str | None = None) -> Environment:
        """A registered environment (the latest version unless ``version`` is given).

        A curated Azure environment (``AzureML-…``) that was never registered locally comes
        back as an environment whose requirements mlnb infers from the service's imports.

        Raises:
            InvalidConfiguration: for an unknown name or version, or a ``label`` (labels are not kept locally).
        """
        if label is not None:
            raise InvalidConfiguration("environment labels are not kept locally; pass version= instead")
        store = Store(local_workspace(workspace))
        record = store.read(_KIND, name, str(version)) if version is not None else store.latest(_KIND, name)
        if record is not None:
            return Environment._deserialize(record)
        if version is None and name.startswith(_CURATED_PREFIX):
            curated = Environment(name)
            curated._curated = True
            return curated
        known = store.versions(_KIND, name)
        if known:
            raise InvalidConfiguration(f"environment {name!r} has no version {version}; registered: {', '.join(map(str, known))}")
        raise InvalidConfiguration(f"no environment named {name!r} is registered; register it with env.register(ws)")

    @staticmethod
    def list(workspace: AzureWorkspace) -> dict[str, Environment]:
        """The latest version of every registered environment, by name."""
        store = Store(local_workspace(workspace))
        return {name: Environment._deserialize(record) for name in store.names(_KIND)
                if (record := store.latest(_KIND, name)) is not None}

    # -- building ------------------------------------------------------------------------

    def build(self, workspace: AzureWorkspace, image_build_compute: str | None = None) -> Any:
        """Cloud only: Azure builds the image in the workspace's registry."""
        refuse("Environment.build()", "Model.package(ws, [model], InferenceConfig(..., environment=env)) builds the image "
               "with the local Docker engine")

    def build_local(self, workspace: AzureWorkspace, platform: str | None = None, **kwargs: Any) -> Any:
        """Not mapped: mlnb builds images for models, not for environments alone.

        Raises:
            InvalidConfiguration: always, pointing at ``Model.package``.
        """
        raise InvalidConfiguration("mlnb builds images for models, not for an environment alone: "
                                   "Model.package(ws, [model], InferenceConfig(..., environment=env)) builds one locally")

    def clone(self, new_name: str) -> Environment:
        """A copy under another name, unregistered."""
        twin = copy.deepcopy(self)
        twin.name = new_name
        twin.version = None
        return twin

    # -- files ---------------------------------------------------------------------------

    def save_to_directory(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        """Write ``azureml_environment.json`` and ``conda_dependencies.yml`` into the folder ``path``.

        Raises:
            InvalidConfiguration: when the files exist and ``overwrite`` is false.
        """
        folder = Path(path)
        definition = folder / _DEFINITION_FILE
        if definition.exists() and not overwrite:
            raise InvalidConfiguration(f"{definition} exists; pass overwrite=True to replace it")
        folder.mkdir(parents=True, exist_ok=True)
        data = self._serialize()
        data["python"]["condaDependencies"] = None
        definition.write_text(json.dumps(data, indent=4, sort_keys=True))
        if self.python.conda_dependencies is not None:
            (folder / _CONDA_FILE).write_text(self.python.conda_dependencies.serialize_to_string())

    @staticmethod
    def load_from_directory(path: str | os.PathLike[str]) -> Environment:
        """Read what :meth:`save_to_directory` wrote.

        Raises:
            InvalidConfiguration: when the folder holds no ``azureml_environment.json``.
        """
        folder = Path(path)
        try:
            data = json.loads((folder / _DEFINITION_FILE).read_text())
        except (OSError, ValueError) as error:
            raise InvalidConfiguration(f"cannot read {folder / _DEFINITION_FILE}: {error}") from None
        environment = Environment._deserialize(data)
        if (folder / _CONDA_FILE).is_file():
            environment.python.conda_dependencies = CondaDependencies(folder / _CONDA_FILE)
        return environment

    # -- mlnb ----------------------------------------------------------------------------

    def _to_mlnb(self, source_directory: Path) -> LocalEnvironment | None:
        """The :class:`mlnb.Environment` this stands for; ``None`` means "infer the requirements".

        Raises:
            InvalidConfiguration: for a Dockerfile-based environment, or an unreadable conda file.
        """
        if self.docker.base_dockerfile is not None:
            raise InvalidConfiguration(
                f"environment {self.name!r} builds from a Dockerfile; mlnb builds on a base image: "
                "`docker build -t myimage .` it, then set env.docker.base_image = 'myimage'"
            )
        note_unused(f"environment {self.name!r}", {
            "docker.arguments": self.docker.arguments or None, "docker.gpu_support": self.docker.gpu_support or None,
            "docker.shm_size": None if self.docker.shm_size in (None, "2g") else self.docker.shm_size,
            "python.base_conda_environment": self.python.base_conda_environment,
        }, "mlnb runs the container with its own settings")
        if self._curated:
            note(f"{self.name} is a curated Azure environment: mlnb infers the service's requirements from its imports instead")
            return None
        if self.python.user_managed_dependencies:
            return LocalEnvironment(self.name)
        if self.python.conda_dependencies_file is not None:
            return LocalEnvironment.from_conda_specification(self.name, source_directory / self.python.conda_dependencies_file)
        dependencies = self.python.conda_dependencies or CondaDependencies()
        if dependencies.pip_options:
            note(f"environment {self.name!r}: pip options {', '.join(dependencies.pip_options)} are dropped "
                 "(mlnb resolves packages with the host's pip configuration)")
        return LocalEnvironment(self.name, pip_requirements=dependencies.pip_packages,
                                conda_dependencies=dependencies.conda_packages)

    def _base_image(self) -> str | None:
        """The base image to build on, when it is not one of Azure's own."""
        image = self.docker.base_image
        if image is None or image.startswith(_AZURE_IMAGES):
            return None
        return image

    def _serialize(self) -> dict[str, Any]:
        return {
            "assetId": None,
            "databricks": {"eggLibraries": [], "jarLibraries": [], "mavenLibraries": [], "pypiLibraries": [],
                           "rcranLibraries": []},
            "docker": self.docker._serialize(),
            "environmentVariables": dict(self._environment_variables),
            "inferencingStackVersion": self.inferencing_stack_version,
            "name": self.name,
            "python": self.python._serialize(),
            "r": None,
            "spark": {"packages": [], "precachePackages": True, "repositories": []},
            "version": self.version,
        }

    @staticmethod
    def _deserialize(data: dict[str, Any]) -> Environment:
        environment = Environment(data["name"], _skip_defaults=True)
        environment.version = data.get("version")
        python, docker = data.get("python") or {}, data.get("docker") or {}
        if python.get("condaDependencies") is not None:
            environment.python.conda_dependencies = CondaDependencies(_underlying_structure=python["condaDependencies"])
        environment.python.conda_dependencies_file = python.get("condaDependenciesFile")
        environment.python.user_managed_dependencies = bool(python.get("userManagedDependencies"))
        environment.python.interpreter_path = python.get("interpreterPath") or "python"
        environment.python.base_conda_environment = python.get("baseCondaEnvironment")
        if docker.get("baseDockerfile"):
            environment.docker.base_dockerfile = docker["baseDockerfile"]
        else:
            environment.docker.base_image = docker.get("baseImage")
        environment.docker.enabled = bool(docker.get("enabled"))
        environment.docker.shm_size = docker.get("shmSize")
        environment.docker.arguments = docker.get("arguments") or []
        registry = docker.get("baseImageRegistry") or {}
        for field in ("address", "username", "password"):
            setattr(environment.docker.base_image_registry, field, registry.get(field))
        environment.environment_variables = data.get("environmentVariables") or {}
        environment.inferencing_stack_version = data.get("inferencingStackVersion")
        return environment

    def __repr__(self) -> str:
        return json.dumps(self._serialize(), indent=4, sort_keys=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Environment) and other._serialize() == self._serialize()

    __hash__ = None  # type: ignore[assignment]


def _no_more(what: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise InvalidConfiguration(f"{what}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
