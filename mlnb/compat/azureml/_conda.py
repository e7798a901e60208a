"""``azureml.core.conda_dependencies.CondaDependencies``: a conda environment specification.

It edits the same structure Azure's class does and prints it the same way:
:meth:`CondaDependencies.serialize_to_string` of ``CondaDependencies()`` or
``CondaDependencies.create(...)`` is byte for byte what azureml-core 1.61 prints, its
template comments included (they end in ``\\r\\n``, as Azure's do). A file read from disk
is printed without the comments it had (Azure's YAML library kept them). How mlnb
deploys the result: pip packages and conda packages become the service's requirements
(:class:`mlnb.Environment`); pip options and channels have no local meaning (mlnb resolves
packages with the host's pip configuration) and are dropped with a note.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from mlnb.errors import InvalidConfiguration

__all__ = ["CondaDependencies"]

#: What ``CondaDependencies.create()`` pins when no Python version is given (azureml-core 1.61).
PYTHON_DEFAULT_VERSION = "3.10.18"
_TEMPLATE_PYTHON = "3.8.13"
_DEFAULT_ORIGIN = "https://pypi.python.org/simple"
# azureml-core 1.61 ships this index as its "SDK origin", so create() always adds two pip options.
_SDK_ORIGIN = "https://pypi.python.org/simple/index.html"
_PIP = "pip"
_VALID_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
_NAME_SPLIT = re.compile(r"[\[=|<>~!]")

_HEADER = (
    "# Conda environment specification. The dependencies defined in this file will\r\n"
    "# be automatically provisioned for runs with userManagedDependencies=False.\r\n"
    "\n"
    "# Details about the Conda environment file format:\r\n"
    "# https://conda.io/docs/user-guide/tasks/manage-environments.html#create-env-file-manually\r\n"
    "\n"
)
_PYTHON_COMMENT = "  # The python interpreter version.\r\n  # Currently Azure ML only supports 3.8 and later.\r\n"
_DEFAULTS_COMMENT = "    # Required packages for AzureML execution, history, and data preparation.\r\n"


class _Item:
    """One list entry and the comment lines printed before and after it."""

    def __init__(self, value: Any, before: str = "", after: str = "") -> None:
        self.value = value
        self.before = before
        self.after = after


class CondaDependencies:
    """A conda environment: Python version, conda packages, pip packages, channels.

    Args:
        conda_dependencies_file_path: a conda YAML file to load; without one, Azure's
            template (``python=3.8.13``, ``azureml-defaults``, channels ``anaconda`` and
            ``conda-forge``).
        _underlying_structure: a dict of the YAML's structure (Azure's internal argument).

    Raises:
        InvalidConfiguration: when the file cannot be read, is not YAML, or has a key conda
            does not know.
    """

    def __init__(self, conda_dependencies_file_path: str | os.PathLike[str] | None = None,
                 _underlying_structure: dict[str, Any] | None = None) -> None:
        self._header = ""
        if conda_dependencies_file_path is not None:
            self._load(_read_yaml(Path(conda_dependencies_file_path)), source=str(conda_dependencies_file_path))
        elif _underlying_structure is not None:
            self._load(_underlying_structure, source="the given structure")
        else:
            self._header = _HEADER
            self._keys: dict[str, Any] = {
                "name": "project_environment",
                "dependencies": [
                    _Item(f"python={_TEMPLATE_PYTHON}", before=_PYTHON_COMMENT, after="\n"),
                    _Item({_PIP: [_Item("azureml-defaults", before=_DEFAULTS_COMMENT, after="\n")]}),
                ],
                "channels": [_Item("anaconda"), _Item("conda-forge")],
            }

    def _load(self, data: Any, *, source: str) -> None:
        if not isinstance(data, dict):
            raise InvalidConfiguration(f"conda specification {source} is not a YAML mapping")
        for key in data:
            if str(key) not in _VALID_KEYS:
                raise InvalidConfiguration(f"conda specification {source} has an unknown key {key!r}; "
                                           f"conda knows {', '.join(_VALID_KEYS)}")
        self._keys = {}
        for key, value in data.items():
            if key in ("dependencies", "channels") and isinstance(value, list):
                self._keys[key] = [_Item({_PIP: [_Item(p) for p in item[_PIP] or []]}) if _is_pip(item) else _Item(item)
                                   for item in value]
            else:
                self._keys[key] = value

    # -- factories -----------------------------------------------------------------------

    @staticmethod
    def create(pip_indexurl: str | None = None, pip_packages: Iterable[str] | None = None,
               conda_packages: Iterable[str] | None = None, python_version: str = PYTHON_DEFAULT_VERSION,
               pin_sdk_version: bool = True) -> CondaDependencies:
        """A specification with these packages, as Azure builds it.

        Args:
            pip_indexurl: written as a ``--find-links`` pip option (Azure's own index by default).
            pip_packages: pip packages (default ``["azureml-defaults"]``).
            conda_packages: conda packages.
            python_version: the Python version (default ``3.10.18``).
            pin_sdk_version: Azure pins its own ``azureml-*`` packages; mlnb's runtime replaces
                them, so this changes nothing.

        Returns:
            The specification.
        """
        dependencies = CondaDependencies()
        dependencies.set_pip_option(f"--find-links {pip_indexurl or _SDK_ORIGIN}")
        dependencies.set_pip_option(f"--extra-index-url {_DEFAULT_ORIGIN}")
        dependencies.set_python_version(python_version)
        if pip_packages is not None:
            for package in list(dependencies.pip_packages):
                dependencies.remove_pip_package(package)
        for package in ["azureml-defaults"] if pip_packages is None else pip_packages:
            dependencies.add_pip_package(package)
        for package in conda_packages or ():
            dependencies.add_conda_package(package)
        return dependencies

    @staticmethod
    def merge_requirements(requirements: Iterable[str]) -> list[str]:
        """Merge requirements on the same package into one: ``["a>1", "a<3"]`` -> ``["a>1,<3"]``."""
        merged: dict[str, list[str]] = {}
        for requirement in requirements:
            name = _package_name(requirement)
            merged.setdefault(name, []).append(requirement[len(name):].strip())
        return [name + ",".join(spec for spec in specs if spec) for name, specs in merged.items()]

    # -- what it holds -------------------------------------------------------------------

    @property
    def conda_channels(self) -> list[str]:
        """The channels, in order."""
        return [str(item.value) for item in self._keys.get("channels", [])]

    @property
    def conda_packages(self) -> list[str]:
        """The conda packages, ``python=…`` included, in order."""
        return [str(item.value) for item in self._dependencies() if not isinstance(item.value, dict)]

    @property
    def pip_packages(self) -> list[str]:
        """The pip packages (options left out), in order."""
        return [p for p in self._pip_entries() if not _is_option(p)]

    @property
    def pip_options(self) -> list[str]:
        """The pip options (``--index-url …``), in order."""
        return [p for p in self._pip_entries() if _is_option(p)]

    def get_python_version(self) -> str | None:
        """The version in the ``python=`` conda package, or ``None``."""
        for package in self.conda_packages:
            if _package_name(package) == "python":
                return package.split("=")[-1] if "=" in package else None
        return None

    def as_dict(self) -> dict[str, Any]:
        """The specification as plain Python data."""
        return {key: [_plain(item.value) for item in value] if _is_items(value) else value for key, value in self._keys.items()}

    # -- editing -------------------------------------------------------------------------

    def set_python_version(self, version: str) -> None:
        """Set the ``python=`` conda package (in place, keeping its comment)."""
        for item in self._dependencies():
            if isinstance(item.value, str) and _package_name(item.value) == "python":
                item.value = f"python={version}"
                return
        self._keys.setdefault("dependencies", []).append(_Item(f"python={version}"))

    def add_channel(self, channel: str) -> None:
        """Add a conda channel (once)."""
        if channel not in self.conda_channels:
            self._keys.setdefault("channels", []).append(_Item(channel))

    def remove_channel(self, channel: str) -> None:
        """Remove a conda channel, if present."""
        self._keys["channels"] = [item for item in self._keys.get("channels", []) if item.value != channel]

    def add_conda_package(self, conda_package: str) -> None:
        """Add a conda package; ``python=X`` sets the Python version instead."""
        if _package_name(conda_package) == "python":
            self.set_python_version(conda_package.split("=")[-1])
        elif conda_package not in self.conda_packages:
            self._keys.setdefault("dependencies", []).append(_Item(conda_package))

    def remove_conda_package(self, conda_package: str) -> None:
        """Remove a conda package given exactly as added.

        Raises:
            InvalidConfiguration: for ``python``, which a specification must keep.
        """
        if _package_name(conda_package) == "python" and conda_package in self.conda_packages:
            raise InvalidConfiguration("python must not be removed from conda dependencies; use set_python_version()")
        self._keys["dependencies"] = [item for item in self._dependencies() if item.value != conda_package]

    def add_pip_package(self, pip_package: str) -> None:
        """Add a pip package, replacing another requirement on the same package.

        Raises:
            InvalidConfiguration: for a pip option (use :meth:`set_pip_option`).
        """
        if _is_option(pip_package):
            raise InvalidConfiguration(f"invalid package name {pip_package!r}; set options with set_pip_option()")
        self.remove_pip_package(pip_package)
        self._pip_list().append(_Item(pip_package))

    def remove_pip_package(self, pip_package: str) -> None:
        """Remove the pip requirement on this package (whatever its version or extras)."""
        if _is_option(pip_package):
            raise InvalidConfiguration(f"invalid package name {pip_package!r}")
        name = _package_name(pip_package)
        pip = self._pip_item()
        if pip is not None:
            pip.value[_PIP] = [item for item in pip.value[_PIP] if _is_option(item.value) or _package_name(item.value) != name]

    def set_pip_option(self, pip_option: str) -> None:
        """Add a pip option, or replace the one with the same flag.

        Raises:
            InvalidConfiguration: when ``pip_option`` does not start with ``-``.
        """
        if not _is_option(pip_option):
            raise InvalidConfiguration(f"invalid pip option {pip_option!r}; options start with '-'")
        flag = pip_option.split()[0]
        entries = self._pip_list()
        for item in entries:
            if _is_option(item.value) and item.value.split()[0] == flag:
                item.value = pip_option
                return
        entries.append(_Item(pip_option))

    # -- writing -------------------------------------------------------------------------

    def serialize_to_string(self) -> str:
        """The specification as conda YAML, printed as Azure prints it."""
        out = [self._header]
        for key, value in self._keys.items():
            if not _is_items(value):
                out.append(yaml.safe_dump({key: value}, default_flow_style=False, sort_keys=False))
            elif not value:
                out.append(f"{key}: []\n")
            else:
                out.append(f"{key}:\n")
                for item in value:
                    out.append(item.before)
                    if isinstance(item.value, dict):
                        pip = item.value[_PIP]
                        out.append("- pip: []\n" if not pip else "- pip:\n")
                        for entry in pip:
                            out.append(entry.before + "  " + _scalar_item(entry.value) + entry.after)
                    else:
                        out.append(_scalar_item(item.value))
                    out.append(item.after)
        return "".join(out)

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """Write the specification to the file ``path`` and return the path.

        Raises:
            InvalidConfiguration: when ``path`` is missing, a folder, or in a folder that does not exist.
        """
        if path is None or Path(path).is_dir():
            raise InvalidConfiguration("save() needs the path of a file to write, e.g. save('env/myenv.yml')")
        target = Path(path)
        if target.parent != Path() and not target.parent.is_dir():
            raise InvalidConfiguration(f"cannot save to {target}: folder {target.parent} does not exist")
        target.write_text(self.serialize_to_string(), encoding="utf-8")
        return str(path)

    def save_to_file(self, base_directory: str | os.PathLike[str], conda_file_path: str | None = None) -> str:
        """Write the specification under ``base_directory`` and return its relative path.

        Args:
            base_directory: the project folder.
            conda_file_path: the relative path (default ``.azureml/auto_conda_dependencies.yml``).
        """
        relative = conda_file_path or ".azureml/auto_conda_dependencies.yml"
        target = Path(base_directory) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.serialize_to_string(), encoding="utf-8")
        return relative.replace(os.sep, "/")

    # -- internals -----------------------------------------------------------------------

    def _dependencies(self) -> list[_Item]:
        items: list[_Item] = self._keys.get("dependencies", [])
        return items

    def _pip_item(self) -> _Item | None:
        return next((item for item in self._dependencies() if isinstance(item.value, dict)), None)

    def _pip_list(self) -> list[_Item]:
        pip = self._pip_item()
        if pip is None:
            pip = _Item({_PIP: []})
            self._keys.setdefault("dependencies", []).append(pip)
        entries: list[_Item] = pip.value[_PIP]
        return entries

    def _pip_entries(self) -> list[str]:
        pip = self._pip_item()
        return [str(item.value) for item in pip.value[_PIP]] if pip is not None else []

    def __repr__(self) -> str:
        return f"CondaDependencies({self.as_dict()!r})"


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidConfiguration(f"cannot read conda file {str(path)!r}: {error.strerror or error}") from None
    except yaml.YAMLError:
        raise InvalidConfiguration(f"conda file {str(path)!r} is not valid YAML") from None


def _is_pip(value: Any) -> bool:
    return isinstance(value, dict) and _PIP in value


def _is_items(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, _Item) for item in value)


def _plain(value: Any) -> Any:
    return {_PIP: [item.value for item in value[_PIP]]} if isinstance(value, dict) else value


def _is_option(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("-")


def _package_name(requirement: str) -> str:
    if requirement.endswith(".whl"):
        return requirement.rsplit("/", 1)[-1].split("-")[0]
    return _NAME_SPLIT.split(requirement)[0].strip()


def _scalar_item(value: Any) -> str:
    # PyYAML decides quoting as Azure's YAML library does for these scalars: "- value\n".
    return yaml.safe_dump([value], default_flow_style=False, width=2**16)
