"""``azureml.core.model.InferenceConfig``: Azure's arguments, checked now, turned into mlnb's at deploy time.

Paths follow Azure's rules, which mlnb's :class:`mlnb.InferenceConfig` shares: with
``source_directory``, ``entry_script`` and ``conda_file`` are relative to it; without it,
the entry script's folder ships with the service.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlnb.compat.azureml._container_registry import ContainerRegistry
from mlnb.compat.azureml._environment import Environment
from mlnb.compat.azureml._notes import note_unused, quiet
from mlnb.config import InferenceConfig as LocalInferenceConfig
from mlnb.errors import InvalidConfiguration

__all__ = ["InferenceConfig"]

_AZURE_IMAGES = "mcr.microsoft.com/azureml/"


class InferenceConfig:
    """What a service runs: the entry script, its folder, and its environment.

    Args:
        entry_script: the script defining ``init()`` and ``run()``.
        runtime: ``"python"`` (Azure's other runtime, ``spark-py``, is not supported).
        conda_file: a conda YAML for the service; exclusive with ``environment``.
        extra_docker_file_steps: Dockerfile lines Azure appended; not applied locally.
        source_directory: the folder shipped with the service.
        enable_gpu: Azure's GPU image; there are no GPUs locally.
        description: free text kept with the service.
        base_image: the image to build on (Azure's own ``mcr.microsoft.com/azureml/…``
            images are replaced by mlnb's base image).
        base_image_registry: credentials for ``base_image``'s registry; nothing is pulled locally.
        cuda_version: Azure's CUDA version; there are no GPUs locally.
        environment: an :class:`Environment`; exclusive with ``runtime``, ``conda_file``,
            ``extra_docker_file_steps``, ``enable_gpu``, ``base_image`` and ``cuda_version``.

    Raises:
        InvalidConfiguration: for a missing or unparsable entry script, an unreadable conda
            file, or ``environment`` mixed with the arguments it replaces.
    """

    entry_script: str
    runtime: str | None
    conda_file: str | None
    extra_docker_file_steps: str | None
    source_directory: str | os.PathLike[str] | None
    enable_gpu: bool | None
    description: str | None
    base_image: str | None
    base_image_registry: ContainerRegistry
    cuda_version: str | None
    environment: Environment | None
    _converted = False

    def __init__(self, entry_script: str, runtime: str | None = None, conda_file: str | None = None,
                 extra_docker_file_steps: str | None = None, source_directory: str | os.PathLike[str] | None = None,
                 enable_gpu: bool | None = None, description: str | None = None, base_image: str | None = None,
                 base_image_registry: ContainerRegistry | None = None, cuda_version: str | None = None,
                 environment: Environment | None = None) -> None:
        self.entry_script = entry_script
        self.runtime = runtime
        self.conda_file = conda_file
        self.extra_docker_file_steps = extra_docker_file_steps
        self.source_directory = source_directory
        self.enable_gpu = enable_gpu
        self.description = description
        self.base_image = base_image
        self.base_image_registry = base_image_registry or ContainerRegistry()
        self.cuda_version = cuda_version
        self.environment = environment
        self.validate_configuration()
        note_unused("InferenceConfig", {"extra_docker_file_steps": extra_docker_file_steps, "enable_gpu": enable_gpu or None,
                                        "cuda_version": cuda_version, "base_image_registry": self.base_image_registry.address},
                    "mlnb builds on a local base image, CPU only; put setup in init() or the base image")

    def validate_configuration(self) -> None:
        """Check the configuration as Azure does, and that mlnb can serve it.

        Raises:
            InvalidConfiguration: when it cannot work.
        """
        if self.environment is not None:
            if not isinstance(self.environment, Environment):
                raise InvalidConfiguration(f"environment must be an azureml Environment (not {type(self.environment).__name__})")
            mixed = [name for name in ("runtime", "conda_file", "extra_docker_file_steps", "enable_gpu", "base_image",
                                       "cuda_version") if getattr(self, name) is not None]
            if mixed:
                raise InvalidConfiguration(f"InferenceConfig: {', '.join(mixed)} cannot be set with environment; "
                                           "set them on the Environment instead")
        if self.runtime is not None and self.runtime.lower() != "python":
            raise InvalidConfiguration(f"runtime {self.runtime!r} is not supported; mlnb serves Python entry scripts: use runtime='python'")
        self._to_mlnb()

    def _root(self) -> Path:
        if self.source_directory is not None:
            return Path(self.source_directory).resolve()
        return Path(self.entry_script).resolve().parent

    def _to_mlnb(self) -> LocalInferenceConfig:
        """mlnb's inference configuration for this one (its notes are given once, when it is made)."""
        if self._converted:
            with quiet():
                return self._convert()
        self._converted = True
        return self._convert()

    def _convert(self) -> LocalInferenceConfig:
        environment = self.environment._to_mlnb(self._root()) if self.environment is not None else None
        source = None if self.source_directory is None else Path(self.source_directory)
        return LocalInferenceConfig(self.entry_script, source_directory=source, environment=environment,
                                    conda_file=self.conda_file if environment is None else None, description=self.description)

    def _base_image(self) -> str | None:
        """The base image to build on, when it is not one of Azure's own."""
        image = self.environment._base_image() if self.environment is not None else self.base_image
        return None if image is None or image.startswith(_AZURE_IMAGES) else image

    def _environment_variables(self) -> dict[str, str]:
        return dict(self.environment.environment_variables) if self.environment is not None else {}

    def serialize(self) -> dict[str, Any]:
        """The configuration with Azure's field names."""
        return {
            "entryScript": self.entry_script, "runtime": self.runtime, "condaFile": self.conda_file,
            "extraDockerfileSteps": self.extra_docker_file_steps,
            "sourceDirectory": None if self.source_directory is None else os.fspath(self.source_directory),
            "enableGpu": self.enable_gpu, "description": self.description, "baseImage": self.base_image,
            "cudaVersion": self.cuda_version, "environment": None if self.environment is None else self.environment._serialize(),
        }

    def __repr__(self) -> str:
        return (f"InferenceConfig(entry_script={self.entry_script}, runtime={self.runtime}, conda_file={self.conda_file}, "
                f"extra_docker_file_steps={self.extra_docker_file_steps}, source_directory={self.source_directory}, "
                f"enable_gpu={self.enable_gpu}, base_image={self.base_image}, base_image_registry={self.base_image_registry})")
