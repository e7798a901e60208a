"""``InferenceConfig``: the entry script, its source directory and its environment.

It also loads from the Azure CLI's ``inferenceconfig.json`` field names.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlnb.config._environment import Environment
from mlnb.config._json import read_json
from mlnb.errors import EntryScriptError, InvalidConfiguration

_RUNTIMES = ("python",)

# Fields of Azure's inferenceconfig.json that mlnb cannot honour: accepted when unset,
# so Azure's own sample file loads, and refused with a pointer when set.
_AZURE_UNSUPPORTED_IC_FIELDS = {
    "extraDockerfileSteps": "extra Dockerfile steps are not supported; put setup in init() or the base image",
    "extraDockerFileSteps": "extra Dockerfile steps are not supported; put setup in init() or the base image",
    "enableGpu": "GPU images are not supported",
    "cudaVersion": "GPU images are not supported",
    "baseImage": "set the base image in the deployment configuration (baseImage) or MLNB_BASE_IMAGE",
    "baseImageRegistry": "images are never pulled from a registry; set MLNB_BASE_IMAGE to a local image",
}
_IC_FIELDS = ("entryScript", "sourceDirectory", "condaFile", "runtime", "environment", "description")


class InferenceConfig:
    """What a service runs: an entry script, the folder it ships with, and its environment.

    Paths follow Azure ML SDK v1: with ``source_directory``, ``entry_script`` and
    ``conda_file`` are relative to it and the whole folder ships with the service;
    without it, they are relative to the current directory and the entry script's own
    folder is the source directory (so ``entry_script="x/y/score.py"`` ships ``x/y/``).
    Caches, VCS folders, virtual environments and ``.mlnb`` are never shipped.

    With neither ``environment`` nor ``conda_file``, the service's pip requirements are
    inferred from the source's imports and the models' pickles (see
    :func:`mlnb.config._dependencies.infer_dependencies`).

    Args:
        entry_script: the script defining ``init()`` and ``run()``.
        source_directory: the folder shipped with the service.
        environment: the Python version and pip requirements; exclusive with ``conda_file``.
        conda_file: a conda YAML to build the environment from; exclusive with ``environment``.
        runtime: must be ``"python"``.
        description: free text kept with the service.

    Raises:
        EntryScriptError: when the entry script is missing, outside the source directory,
            not a ``.py`` file, or does not parse.
        InvalidConfiguration: for any other value that cannot work.

    Example::

        InferenceConfig(entry_script="score.py", source_directory=".", environment=env)
        InferenceConfig(runtime="python", entry_script="x/y/score.py", conda_file="env/myenv.yml")
    """

    def __init__(
        self,
        entry_script: str | Path,
        source_directory: str | Path | None = None,
        environment: Environment | None = None,
        conda_file: str | Path | None = None,
        runtime: str = "python",
        *,
        description: str | None = None,
    ) -> None:
        if not isinstance(runtime, str) or runtime.lower() not in _RUNTIMES:
            raise InvalidConfiguration(f"runtime {runtime!r} is not supported; mlnb serves Python entry scripts: use runtime=\"python\"")
        if environment is not None and conda_file is not None:
            raise InvalidConfiguration("environment and conda_file are exclusive; pass one (an Environment can be built from the conda file)")
        if environment is not None and not isinstance(environment, Environment):
            raise InvalidConfiguration(f"environment must be an mlnb.Environment (not {type(environment).__name__})")
        if description is not None and not isinstance(description, str):
            raise InvalidConfiguration(f"invalid value for description, expected a string (not {description!r})")
        if not isinstance(entry_script, (str, os.PathLike)) or not str(entry_script):
            raise EntryScriptError(f"invalid entry_script {entry_script!r}, expected the path of a .py file")

        if source_directory is not None:
            root = Path(source_directory).resolve()
            if not root.is_dir():
                raise InvalidConfiguration(f"source_directory {str(source_directory)!r} is not a directory")
            script = (root / entry_script).resolve()
        else:
            script = Path(entry_script).resolve()
            root = script.parent
        if not script.is_relative_to(root):
            raise EntryScriptError(f"entry script {str(entry_script)!r} is outside source_directory {str(root)!r}; move it inside")
        if script.suffix != ".py":
            raise EntryScriptError(f"entry script {str(entry_script)!r} is not a .py file")
        if not script.is_file():
            raise EntryScriptError(f"entry script {str(script)!r} does not exist; check entry_script and source_directory")
        _check_parses(script)

        if conda_file is not None:
            conda_path = (root / conda_file if source_directory is not None else Path(conda_file)).resolve()
            environment = Environment.from_conda_specification(conda_path.stem, conda_path)
        else:
            conda_path = None
        self._root = root
        self._entry_script = script.relative_to(root).as_posix()
        self._environment = environment
        self._conda_file = conda_path
        self._runtime = runtime.lower()
        self._description = description

    @property
    def entry_script(self) -> str:
        """The entry script's path inside the source directory, with ``/`` separators."""
        return self._entry_script

    @property
    def source_directory(self) -> Path:
        """The absolute path of the folder shipped with the service."""
        return self._root

    @property
    def entry_script_path(self) -> Path:
        """The entry script's absolute path."""
        return self._root / self._entry_script

    @property
    def environment(self) -> Environment | None:
        """The environment given or read from ``conda_file``; ``None`` means inferred."""
        return self._environment

    @property
    def conda_file(self) -> Path | None:
        """The absolute path of the conda file, if one was given."""
        return self._conda_file

    @property
    def runtime(self) -> str:
        """Always ``"python"``."""
        return self._runtime

    @property
    def description(self) -> str | None:
        """Free text kept with the service."""
        return self._description

    def serialize(self) -> dict[str, Any]:
        """Return the configuration as a JSON-ready dict with Azure's field names and absolute paths."""
        return {
            "entryScript": self._entry_script,
            "sourceDirectory": str(self._root),
            "runtime": self._runtime,
            "condaFile": str(self._conda_file) if self._conda_file else None,
            "environment": self._environment.serialize() if self._environment and not self._conda_file else None,
            "description": self._description,
        }

    @classmethod
    def deserialize(cls, data: Mapping[str, Any]) -> InferenceConfig:
        """Build a configuration from :meth:`serialize`'s output (or an inferenceconfig.json dict).

        Relative paths are taken from the current directory.

        Raises:
            InvalidConfiguration: for an unknown key or a value that cannot work.
        """
        return cls._from_mapping(data, base=Path.cwd(), source="inference configuration")

    @classmethod
    def from_json(cls, path: str | Path) -> InferenceConfig:
        """Load an Azure CLI ``inferenceconfig.json`` (``entryScript``, ``sourceDirectory``, ``condaFile`` …).

        Relative paths are taken from the JSON file's folder, so the file works from any
        current directory. Azure fields mlnb cannot honour (``extraDockerfileSteps``,
        ``enableGpu``, ``baseImage`` …) are accepted when null or false.

        Args:
            path: the JSON file.

        Returns:
            The configuration.

        Raises:
            InvalidConfiguration: when the file cannot be read, has an unknown key, or a
                value that cannot work.
            EntryScriptError: when the entry script cannot be used.
        """
        data = read_json(Path(path))
        return cls._from_mapping(data, base=Path(path).resolve().parent, source=str(path))

    @classmethod
    def _from_mapping(cls, data: Any, *, base: Path, source: str) -> InferenceConfig:
        if not isinstance(data, Mapping):
            raise InvalidConfiguration(f"{source} must hold a JSON object")
        for key, value in data.items():
            if key in _AZURE_UNSUPPORTED_IC_FIELDS:
                if value not in (None, False, "", []):
                    raise InvalidConfiguration(f"{source}: {key} is set but {_AZURE_UNSUPPORTED_IC_FIELDS[key]}")
            elif key not in _IC_FIELDS:
                raise InvalidConfiguration(f"{source}: unknown key {key!r}; accepted: {', '.join(_IC_FIELDS)}")
        if not data.get("entryScript"):
            raise InvalidConfiguration(f"{source}: entryScript is required")
        environment = data.get("environment")
        source_directory = data.get("sourceDirectory")
        entry_script, conda_file = data["entryScript"], data.get("condaFile")
        if source_directory:
            source_directory = base / source_directory
        else:
            entry_script = base / entry_script
            conda_file = base / conda_file if conda_file else None
        return cls(
            entry_script,
            source_directory=source_directory or None,
            environment=Environment.deserialize(environment) if environment else None,
            conda_file=conda_file or None,
            runtime=data.get("runtime") or "python",
            description=data.get("description"),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InferenceConfig):
            return NotImplemented
        return self.serialize() == other.serialize() and self._environment == other._environment

    def __repr__(self) -> str:
        parts = [f"entry_script={self._entry_script!r}", f"source_directory={str(self._root)!r}"]
        if self._conda_file:
            parts.append(f"conda_file={str(self._conda_file)!r}")
        elif self._environment:
            parts.append(f"environment={self._environment.name!r}")
        return f"InferenceConfig({', '.join(parts)})"


def _check_parses(script: Path) -> None:
    try:
        source = script.read_bytes()
    except OSError as exc:
        raise EntryScriptError(f"cannot read entry script {str(script)!r}: {exc.strerror or exc}") from None
    try:
        ast.parse(source, filename=str(script))
    except SyntaxError as exc:
        raise EntryScriptError(f"entry script {str(script)!r} does not parse: {exc.msg} (line {exc.lineno})") from None
    except ValueError as exc:  # null bytes
        raise EntryScriptError(f"entry script {str(script)!r} does not parse: {exc}") from None
