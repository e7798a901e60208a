"""Environments: the Python version and pip requirements a service runs with.

An :class:`Environment` is what Azure ML's ``Environment`` was for deployment, reduced
to what a locally built image can honour: a Python version and a list of pip
requirements. It can come from a conda YAML (its conda and pip sections), a pip
requirements file, or a plain list::

    env = Environment.from_conda_specification("myenv", "env/myenv.yml")
    env = Environment.from_pip_requirements("myenv", "requirements.txt")
    env = Environment.from_pip_packages("myenv", ["scikit-learn==1.5.2", "joblib"])

Conda packages become pip requirements where pip has them under the same (or a known)
name; conda-only entries such as ``pip`` itself are dropped, and every such decision is
kept in :attr:`Environment.notes`, so the build log can say what happened.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from mlnb.errors import InvalidConfiguration

# Conda package names whose pip distribution is named differently.
_CONDA_TO_PIP = {
    "pytorch": "torch",
    "py-xgboost": "xgboost",
    "py-lightgbm": "lightgbm",
    "pytables": "tables",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "python-graphviz": "graphviz",
    "tensorflow-base": "tensorflow",
}

# Conda packages that are part of the interpreter or toolchain, not pip-installable
# libraries: the image's venv already has what they provide.
_CONDA_ONLY = frozenset(
    {
        "pip", "python", "setuptools", "wheel", "conda", "mkl", "mkl-service", "nomkl",
        "blas", "openblas", "libblas", "libcblas", "liblapack", "cudatoolkit", "cudnn",
        "libgcc-ng", "libstdcxx-ng", "libgfortran-ng", "_libgcc_mutex", "_openmp_mutex",
        "ca-certificates", "openssl", "libffi", "ncurses", "readline", "sqlite", "tk",
        "xz", "zlib", "bzip2", "ld_impl_linux-64", "tzdata",
    }
)

# Azure's serving stack: mlnb's serving runtime replaces it inside every image.
_REPLACED_BY_RUNTIME = frozenset({"azureml-defaults", "azureml-inference-server-http"})

_PYTHON_VERSION = re.compile(r"3(\.[0-9]+){1,2}")
_CONDA_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


class Environment:
    """A Python version and the pip requirements a service needs.

    Args:
        name: a name for the environment, shown in logs and stored with services.
        python_version: ``"3.11"`` or ``"3.11.7"``; ``None`` leaves the base image's Python.
        pip_requirements: pip requirement strings (``"scikit-learn==1.5.2"``, ``"numpy>=1.24"``).
        conda_dependencies: conda package specs (``"scikit-learn=1.5"``,
            ``"conda-forge::numpy"``); each becomes a pip requirement where pip has the
            package, or is dropped with a note.

    Raises:
        InvalidConfiguration: when the name is empty, the Python version is not
            ``3.X[.Y]``, a requirement does not parse, or one distribution is required
            twice with different specifiers.

    Example::

        env = Environment("scoring", python_version="3.11", pip_requirements=["scikit-learn==1.5.2"])
        env.requirements    # ('scikit-learn==1.5.2',)
    """

    def __init__(
        self,
        name: str,
        *,
        python_version: str | None = None,
        pip_requirements: Iterable[str] = (),
        conda_dependencies: Iterable[str] = (),
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidConfiguration(f"invalid environment name {name!r}, expected a non-empty string")
        if isinstance(pip_requirements, str) or isinstance(conda_dependencies, str):
            raise InvalidConfiguration("pip_requirements and conda_dependencies take a list of strings, not one string")
        self._name = name
        self._conda_dependencies = tuple(conda_dependencies)
        notes: list[str] = []
        python_from_conda, converted = _convert_conda(self._conda_dependencies, notes)
        if python_version is not None and python_from_conda is not None and python_version != python_from_conda:
            raise InvalidConfiguration(
                f"python_version={python_version!r} disagrees with the conda dependency python={python_from_conda}; keep one"
            )
        self._python_version = _check_python_version(python_version if python_version is not None else python_from_conda)
        self._pip_requirements = tuple(pip_requirements)
        self._requirements = _merge(converted + [_parse_requirement(r) for r in self._pip_requirements], notes)
        self._notes = tuple(notes)

    @classmethod
    def from_pip_packages(cls, name: str, packages: Iterable[str], *, python_version: str | None = None) -> Environment:
        """Build an environment from a list of pip requirement strings.

        Args:
            name: the environment's name.
            packages: requirement strings, as in a requirements file.
            python_version: ``"3.X"`` or ``"3.X.Y"``, or ``None``.

        Returns:
            The environment.

        Raises:
            InvalidConfiguration: when a requirement does not parse.
        """
        return cls(name, python_version=python_version, pip_requirements=packages)

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str | Path) -> Environment:
        """Build an environment from a pip requirements file.

        Comments, blank lines, line continuations and ``-r other.txt`` includes are
        understood; other pip options (``-e``, ``--index-url``, ``--hash`` …) are refused,
        because the wheelhouse is resolved with the host's own pip configuration.

        Args:
            name: the environment's name.
            file_path: the requirements file.

        Returns:
            The environment.

        Raises:
            InvalidConfiguration: when the file is missing or a line cannot be used.
        """
        return cls(name, pip_requirements=read_requirements_file(file_path))

    @classmethod
    def from_conda_specification(cls, name: str, file_path: str | Path) -> Environment:
        """Build an environment from a conda environment YAML.

        ``python=3.X`` sets :attr:`python_version`; other conda packages become pip
        requirements (``scikit-learn=1.5`` → ``scikit-learn==1.5.*``); the nested
        ``- pip:`` list is kept as is. ``channels`` and ``name`` are ignored.

        Args:
            name: the environment's name.
            file_path: the conda YAML file.

        Returns:
            The environment.

        Raises:
            InvalidConfiguration: when the file is missing, is not YAML, or has no usable
                ``dependencies`` list.
        """
        path = Path(file_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidConfiguration(f"cannot read conda file {str(path)!r}: {exc.strerror or exc}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise InvalidConfiguration(f"conda file {str(path)!r} is not valid YAML{where}") from None
        return cls._from_conda_mapping(name, data, source=str(path))

    @classmethod
    def _from_conda_mapping(cls, name: str, data: Any, *, source: str) -> Environment:
        if not isinstance(data, Mapping) or not isinstance(data.get("dependencies"), list):
            raise InvalidConfiguration(f"conda specification {source!r} has no 'dependencies' list")
        conda: list[str] = []
        pip: list[str] = []
        for entry in data["dependencies"]:
            if isinstance(entry, str):
                conda.append(entry)
            elif isinstance(entry, Mapping) and set(entry) == {"pip"} and isinstance(entry["pip"], list):
                pip.extend(str(item) for item in entry["pip"])
            else:
                raise InvalidConfiguration(
                    f"conda specification {source!r} has an unsupported dependency entry {entry!r}; "
                    "expected a package spec or a '- pip:' list"
                )
        return cls(name, pip_requirements=pip, conda_dependencies=conda)

    @property
    def name(self) -> str:
        """The environment's name."""
        return self._name

    @property
    def python_version(self) -> str | None:
        """The requested Python version (``"3.11"``), or ``None`` for the base image's."""
        return self._python_version

    @property
    def pip_requirements(self) -> tuple[str, ...]:
        """The pip requirements as given."""
        return self._pip_requirements

    @property
    def conda_dependencies(self) -> tuple[str, ...]:
        """The conda package specs as given."""
        return self._conda_dependencies

    @property
    def requirements(self) -> tuple[str, ...]:
        """The pip requirements the image installs: converted conda packages and pip entries, sorted."""
        return self._requirements

    @property
    def notes(self) -> tuple[str, ...]:
        """What was dropped or converted on the way to :attr:`requirements`, one line each."""
        return self._notes

    @property
    def hash(self) -> str:
        """A SHA-256 of the Python version and requirements: stable across runs and input order.

        The name is not part of it, so equal environments share a wheelhouse.
        """
        payload = json.dumps({"python": self._python_version, "requirements": self._requirements})
        return hashlib.sha256(payload.encode()).hexdigest()

    def serialize(self) -> dict[str, Any]:
        """Return the environment as a JSON-ready dict."""
        return {
            "name": self._name,
            "pythonVersion": self._python_version,
            "pipRequirements": list(self._pip_requirements),
            "condaDependencies": list(self._conda_dependencies),
        }

    @classmethod
    def deserialize(cls, data: Mapping[str, Any]) -> Environment:
        """Build an environment from :meth:`serialize`'s output.

        Azure's environment definition (``{"name": …, "python": {"condaDependencies": {…}}}``)
        is accepted too.

        Raises:
            InvalidConfiguration: when the dict has neither shape.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            raise InvalidConfiguration(f"an environment needs at least a 'name' string (got {data!r})")
        python = data.get("python")
        if isinstance(python, Mapping) and "condaDependencies" in python:
            return cls._from_conda_mapping(data["name"], python["condaDependencies"], source=f"environment {data['name']}")
        unknown = set(data) - {"name", "pythonVersion", "pipRequirements", "condaDependencies"}
        if unknown:
            raise InvalidConfiguration(
                f"unknown environment key {sorted(unknown)[0]!r}; accepted: name, pythonVersion, pipRequirements, "
                "condaDependencies, or Azure's python.condaDependencies"
            )
        return cls(
            data["name"],
            python_version=data.get("pythonVersion"),
            pip_requirements=data.get("pipRequirements", ()),
            conda_dependencies=data.get("condaDependencies", ()),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Environment):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self._name, self.hash))

    def __repr__(self) -> str:
        python = f", python_version={self._python_version!r}" if self._python_version else ""
        return f"Environment({self._name!r}{python}, requirements={list(self._requirements)!r})"


def read_requirements_file(file_path: str | Path) -> list[str]:
    """Read the requirement lines of a pip requirements file, following ``-r`` includes.

    Args:
        file_path: the requirements file.

    Returns:
        The requirement strings, in file order.

    Raises:
        InvalidConfiguration: when a file is missing or a line holds a pip option other
            than ``-r``.
    """
    return _read_requirements(Path(file_path), seen=())


def _read_requirements(path: Path, *, seen: tuple[Path, ...]) -> list[str]:
    if path.resolve() in seen:
        raise InvalidConfiguration(f"requirements file {str(path)!r} includes itself")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidConfiguration(f"cannot read requirements file {str(path)!r}: {exc.strerror or exc}") from None
    result: list[str] = []
    # Joining continuations first keeps reported line numbers at the logical line's start.
    logical: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        logical.append((start, pending + raw))
        pending = ""
    if pending:
        logical.append((start, pending))
    for number, line in logical:
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        include = re.match(r"^(-r|--requirement)(\s+|=)(?P<file>\S+)$", line)
        if include:
            result.extend(_read_requirements(path.parent / include["file"], seen=(*seen, path.resolve())))
        elif line.startswith("-"):
            raise InvalidConfiguration(
                f"{path}:{number}: pip option {line.split()[0]!r} is not supported; list distributions by name "
                "(the wheelhouse uses the host's pip configuration)"
            )
        else:
            result.append(line)
    return result


def _check_python_version(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _PYTHON_VERSION.fullmatch(value):
        raise InvalidConfiguration(f"invalid value for python_version, expected \"3.X\" or \"3.X.Y\" (not {value!r})")
    return value


def _parse_requirement(text: str) -> Requirement:
    if not isinstance(text, str):
        raise InvalidConfiguration(f"invalid requirement {text!r}, expected a string such as 'numpy>=1.24'")
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise InvalidConfiguration(f"invalid requirement {text!r}: {reason}") from None
    if requirement.url:
        raise InvalidConfiguration(
            f"requirement {text!r} points at a URL; mlnb installs from a wheelhouse, so name a distribution on the index"
        )
    return requirement


def _convert_conda(specs: tuple[str, ...], notes: list[str]) -> tuple[str | None, list[Requirement]]:
    """Turn conda specs into pip requirements; return the python version they pin, if any."""
    python_version: str | None = None
    converted: list[Requirement] = []
    for spec in specs:
        if not isinstance(spec, str):
            raise InvalidConfiguration(f"invalid conda dependency {spec!r}, expected a string such as 'numpy=1.26'")
        bare = spec.split("::", 1)[-1].strip()
        match = _CONDA_SPEC.match(bare)
        if not match:
            raise InvalidConfiguration(f"invalid conda dependency {spec!r}")
        name = match["name"].lower()
        specifier = _conda_specifier(match["rest"], spec)
        if name == "python":
            exact = re.fullmatch(r"==?(3(?:\.\d+){1,2})(?:\.\*)?", specifier)
            if exact:
                python_version = exact.group(1)
            elif specifier:
                notes.append(f"conda python{specifier} is not an exact version; the base image's Python is used")
            continue
        if name in _CONDA_ONLY:
            notes.append(f"conda package {spec!r} dropped: the image's Python venv provides it")
            continue
        pip_name = _CONDA_TO_PIP.get(name, name)
        if pip_name != name:
            notes.append(f"conda package {name!r} installed as pip distribution {pip_name!r}")
        converted.append(_parse_requirement(pip_name + specifier))
    return python_version, converted


def _conda_specifier(rest: str, spec: str) -> str:
    """Translate a conda version constraint (``=1.5``, ``1.5.*``, ``>=1,<2``, ``=1.5=py_0``) to pip's."""
    rest = rest.strip()
    if not rest:
        return ""
    if " " in rest:
        # "name 1.5 build": the build string has no pip equivalent.
        version = rest.split()[0]
        return "==" + version if version[0].isdigit() else version
    if rest.startswith("=="):
        return "==" + rest[2:].split("=")[0]
    if rest.startswith("="):
        # conda's single "=" is a prefix match (numpy=1.26 means 1.26.*); "=1.5=py_0" adds a build.
        version = rest[1:].split("=")[0]
        return "==" + version if version.endswith(".*") else f"=={version}.*"
    if rest[0] in "<>!~":
        return rest
    raise InvalidConfiguration(f"invalid conda dependency {spec!r}: cannot read its version constraint")


def _merge(requirements: list[Requirement], notes: list[str]) -> tuple[str, ...]:
    """Deduplicate by distribution, refusing contradictions, and sort for a stable order."""
    by_name: dict[str, Requirement] = {}
    for requirement in requirements:
        key = canonicalize_name(requirement.name)
        if key in _REPLACED_BY_RUNTIME:
            notes.append(f"{requirement.name} dropped: mlnb's serving runtime replaces it")
            continue
        existing = by_name.get(key)
        if existing is None:
            by_name[key] = requirement
        elif str(existing.specifier) and str(requirement.specifier) and existing.specifier != requirement.specifier:
            raise InvalidConfiguration(
                f"{requirement.name} is required twice ({str(existing)!r} and {str(requirement)!r}); keep one"
            )
        else:
            keep = existing if str(existing.specifier) else requirement
            keep.extras = existing.extras | requirement.extras
            by_name[key] = keep
    return tuple(str(by_name[key]) for key in sorted(by_name))
