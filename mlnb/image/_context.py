"""Docker build contexts: the Dockerfile, the host-side wheelhouse, and the files they copy.

Everything an image needs is assembled on the host into one directory that plain
``docker build DIR`` turns into a service answering ``POST /score`` on port 5001, with
no mlnb on the building machine. The Docker backend and :meth:`Model.package` both build
from :func:`assemble_context`, so there is one code path.

Layers run from least to most often changed, so an entry-script change rebuilds only
the last one:

1. ``FROM`` the base image (``MLNB_BASE_IMAGE``, the deployment config, or ``python:3.11-slim``);
2. the dependencies: a venv at ``/opt/mlnb/venv`` installed with ``pip --no-index`` from
   the context's ``wheels/`` (resolved on the host, where the package index is trusted), in
   a separate build stage, so the image keeps neither the wheels nor pip itself, and
   without the packages' ``tests`` folders;
3. the serving runtime (``mlnb/serving`` alone) at ``/opt/mlnb/runtime``;
4. the models at ``/var/azureml-app/azureml-models/<name>/<version>/<artifact>``;
5. the source directory at ``/var/azureml-app``, which also answers to the source folder's
   name (``/var/azureml-app/<name>`` links to ``.``, as in Azure's layout).

Building the context is deterministic: the same inputs give byte-identical files, so
Docker's layer cache hits, and :attr:`BuildContext.digest` (a hash of those files) names
an image that can be reused without a build. Nothing here talks to a Docker engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.utils import canonicalize_name

from mlnb.config import InferenceConfig, infer_dependencies, iter_source_files, large_source_warning, read_requirements_file
from mlnb.errors import DependencyResolutionFailed, InvalidConfiguration
from mlnb.image._staging import source_alias

__all__ = [
    "APP_ROOT",
    "BASE_IMAGE_VARIABLE",
    "CONTAINER_PORT",
    "MODELS_ROOT",
    "BuildContext",
    "PackagedModel",
    "assemble_context",
    "build_wheelhouse",
    "context_digest",
    "render_dockerfile",
    "resolve_base_image",
    "runtime_requirements",
]

CONTAINER_PORT = 5001
APP_ROOT = "/var/azureml-app"
MODELS_ROOT = f"{APP_ROOT}/azureml-models"
BASE_IMAGE_VARIABLE = "MLNB_BASE_IMAGE"
#: The uid the image's server runs as (user ``mlnb``, not root).
SERVER_USER_ID = 10001
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")

_VENV = "/opt/mlnb/venv"
_INSTALLER = "/opt/mlnb/installer"
_RUNTIME = "/opt/mlnb/runtime"
_SERVING_DIR = Path(__file__).resolve().parents[1] / "serving"
_CONTEXT_MARKER = ".mlnb-context"
_READINESS_PATH = "/ready"


class PackagedModel(Protocol):
    """What packaging needs from a registered model (``mlnb.registry._model.Model`` satisfies it)."""

    name: str
    version: int
    artifact_name: str

    def materialize(self, target_dir: Path) -> Path:
        """Write ``target_dir/<artifact_name>`` (hard links or copies) and return that path."""
        ...


@dataclass(frozen=True)
class BuildContext:
    """A directory ``docker build`` turns into a service image.

    Attributes:
        directory: the context directory, holding the ``Dockerfile``.
        dockerfile: the Dockerfile's text.
        requirements: what the image's venv installs: the service's requirements and
            the serving runtime's, sorted.
        service_requirements: the service's own requirements (given, from its
            environment, or inferred).
        requirements_origin: ``"given"``, ``"environment"`` or ``"inferred"``.
        notes: what was noticed while deciding the requirements, one line each.
        labels: image labels for ``docker build --label`` (requirements hash, models …).
        base_image: the image built on.
        wheelhouse: the cached wheelhouse the context's ``wheels/`` came from.
        digest: the SHA-256 of the context's files (see :func:`context_digest`): equal
            digests build equal images.
    """

    directory: Path
    dockerfile: str
    requirements: tuple[str, ...]
    service_requirements: tuple[str, ...]
    requirements_origin: str
    notes: tuple[str, ...]
    labels: Mapping[str, str]
    base_image: str
    wheelhouse: Path
    digest: str


def resolve_base_image(configured: str | None = None, *, python_version: str = "3.11") -> str:
    """Pick the base image: ``configured``, else ``$MLNB_BASE_IMAGE``, else ``python:<version>-slim``.

    Args:
        configured: the deployment configuration's ``base_image``.
        python_version: the Python version the wheels are resolved for.

    Returns:
        The image name.
    """
    return configured or os.environ.get(BASE_IMAGE_VARIABLE) or f"python:{_major_minor(python_version)}-slim"


def runtime_requirements(*, collect_data: bool = False) -> tuple[str, ...]:
    """The serving runtime's own pip requirements (``mlnb/serving/requirements.txt``).

    Args:
        collect_data: add what data collection needs (``requirements-collect.txt``:
            pyarrow, about 170 MB installed, so only images that collect get it).

    Returns:
        The requirement strings.

    Raises:
        FileNotFoundError: when the installed mlnb lacks a file (a broken installation).
    """
    names = ("requirements.txt", "requirements-collect.txt") if collect_data else ("requirements.txt",)
    found: list[str] = []
    for name in names:
        path = _SERVING_DIR / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: this mlnb installation is incomplete; reinstall mlnb")
        found.extend(read_requirements_file(path))
    return tuple(found)


def render_dockerfile(*, base_image: str, entry_script: str, model_dir: str, python_version: str = "3.11",
                      source_alias: str | None = None) -> str:
    """Render the Dockerfile of a build context made by :func:`assemble_context`.

    Args:
        base_image: the image to build on; it needs ``python3`` with the ``venv`` module.
        entry_script: the entry script's path inside the source directory.
        model_dir: ``AZUREML_MODEL_DIR`` in the container.
        python_version: the Python the wheels were resolved for; the build stops with a
            clear message when the base image has another.
        source_alias: a name under which the app root also answers (a link to ``.``; see
            :func:`mlnb.image.source_alias`).

    Returns:
        The Dockerfile text.
    """
    version = _major_minor(python_version)
    wanted = tuple(int(part) for part in version.split("."))
    check = (
        f"import sys; v = sys.version_info[:2]; sys.exit(0 if v == {wanted} else "
        f"'mlnb: the base image has Python %d.%d but the wheels are for {version}: use a Python {version} "
        f"base image or pass python_version' % v)"
    )
    healthcheck = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}{_READINESS_PATH}', timeout=4)"
    )
    # Exec form: no shell sees the folder's name.
    alias_link = "" if source_alias is None else f"RUN {json.dumps(['ln', '-s', '.', f'{APP_ROOT}/{source_alias}'])}\n"
    return f"""\
# Generated by mlnb. Build and run anywhere with Docker:
#   docker build -t myimage .
#   docker run -p 6789:{CONTAINER_PORT} myimage      # then POST http://localhost:6789/score
# Layers run from least to most often changed: dependencies, serving runtime, models, source.

# Stage 1: the dependencies, installed offline from the wheelhouse resolved on the host into a
# venv without pip (a second venv holds the installer); the packages' test suites are dropped.
FROM {base_image} AS dependencies
COPY wheels/ /opt/mlnb/wheels/
COPY requirements.txt /opt/mlnb/requirements.txt
RUN python3 -c "{check}" \\
 && (python3 -m venv {_INSTALLER} && python3 -m venv --without-pip {_VENV} \\
     || (echo "mlnb: the base image needs python3 with the venv module" >&2 && exit 1)) \\
 && {_INSTALLER}/bin/pip --python {_VENV}/bin/python install --no-index --find-links /opt/mlnb/wheels \\
      --no-cache-dir --disable-pip-version-check -r /opt/mlnb/requirements.txt \\
 && find {_VENV}/lib -mindepth 4 -type d -name tests -prune -exec rm -rf {{}} +

# Stage 2: the service. The wheels, the installer and pip's caches stay behind in stage 1.
FROM {base_image}
ENV PATH={_VENV}/bin:$PATH \\
    PYTHONPATH={_RUNTIME} \\
    PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    AML_APP_ROOT={APP_ROOT}
RUN useradd --uid {SERVER_USER_ID} --user-group --create-home --home-dir /home/mlnb --shell /usr/sbin/nologin mlnb
COPY --from=dependencies {_VENV} {_VENV}
COPY runtime/ {_RUNTIME}/
COPY models/ {MODELS_ROOT}/
COPY source/ {APP_ROOT}/
{alias_link}ENV AZUREML_MODEL_DIR={_quote(model_dir)} \\
    AZUREML_ENTRY_SCRIPT={_quote(entry_script)}
WORKDIR {APP_ROOT}
USER mlnb
EXPOSE {CONTAINER_PORT}
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \\
    CMD ["python", "-c", "{healthcheck}"]
CMD ["python", "-m", "mlnb.serving", "--host", "0.0.0.0", "--port", "{CONTAINER_PORT}"]
"""


def build_wheelhouse(
    requirements: Sequence[str],
    *,
    cache_dir: Path,
    python_version: str = "3.11",
    log: Callable[[str], None] = print,
) -> Path:
    """Resolve ``requirements`` into a folder of wheels for CPython on manylinux x86_64.

    Runs ``pip download --only-binary=:all:`` on the host (with the host's pip
    configuration, which trusts its package index), so images install with
    ``--no-index`` and build offline. Wheelhouses are cached in ``cache_dir`` under the
    hash of the requirement set and Python version; a download goes to a temporary
    folder renamed into place, so an interrupted one leaves no half cache entry.

    Args:
        requirements: pip requirement strings.
        cache_dir: where wheelhouses are kept (the workspace's ``cache/wheelhouse``).
        python_version: the Python the image runs (``"3.11"``).
        log: receives progress lines; pip's output is streamed through it.

    Returns:
        The wheelhouse folder: the wheels and the ``requirements.txt`` they satisfy.

    Raises:
        DependencyResolutionFailed: when pip cannot resolve a requirement.
    """
    version = _major_minor(python_version)
    lines = _requirements_text(requirements)
    key = hashlib.sha256(f"python {version}\nplatforms {' '.join(PLATFORMS)}\n{lines}".encode()).hexdigest()[:32]
    final = Path(cache_dir) / key
    if final.is_dir():
        log(f"Wheelhouse {key[:12]}: cached ({_describe(final)})")
        return final
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".partial-") as partial:
        staging = Path(partial) / key
        staging.mkdir()
        (staging / "requirements.txt").write_text(lines, encoding="utf-8")
        if requirements:
            log(f"Wheelhouse {key[:12]}: resolving {len(requirements)} requirement(s) for CPython {version} manylinux x86_64 …")
            started = time.monotonic()
            _pip_download(staging, version, log)
            log(f"Wheelhouse {key[:12]}: resolved in {time.monotonic() - started:.1f} s ({_describe(staging)})")
        try:
            staging.rename(final)
        except OSError:
            # Another build resolved the same set meanwhile; its entry is as good as ours.
            if not final.is_dir():
                raise
    return final


def assemble_context(
    models: Sequence[PackagedModel],
    inference_config: InferenceConfig,
    *,
    target_dir: Path,
    wheelhouse_cache: Path,
    base_image: str | None = None,
    python_version: str = "3.11",
    log: Callable[[str], None] = print,
    requirements: Sequence[str] | None = None,
    collect_data: bool = False,
) -> BuildContext:
    """Assemble a complete Docker build context for a service.

    The service's requirements are ``requirements`` when given, else the inference
    config's environment, else inferred from the source's imports and the models'
    pickles and pinned to this environment's versions; they are logged either way. The
    serving runtime's requirements are added.

    The context is built in a temporary sibling folder and renamed into place.
    ``target_dir`` must not exist, be empty, or hold an earlier mlnb context (replaced).

    Args:
        models: the models to ship, each at ``azureml-models/<name>/<version>/<artifact>``.
        inference_config: the entry script, source directory and environment.
        target_dir: the context directory to create.
        wheelhouse_cache: the wheelhouse cache folder (see :func:`build_wheelhouse`).
        base_image: the image to build on; ``None`` means :func:`resolve_base_image`'s choice.
        python_version: the base image's Python, which the wheels are resolved for.
        log: receives progress lines.
        requirements: the service's pip requirements, overriding environment and inference.
        collect_data: the service collects data: the runtime's collection requirements
            (pyarrow) are added too.

    Returns:
        The build context.

    Raises:
        InvalidConfiguration: when ``target_dir`` holds other files, or two models share
            a name and version.
        DependencyResolutionFailed: when a requirement cannot be resolved.

    Example::

        context = assemble_context([model], inference_config, target_dir=Path("imagefiles"),
                                   wheelhouse_cache=ws.path / "cache" / "wheelhouse")
        # docker build -t myimage imagefiles && docker run -p 6789:5001 myimage
    """
    target = Path(target_dir).absolute()
    _check_target(target)
    ordered = sorted(models, key=lambda m: (m.name, m.version))
    ids = [f"{m.name}:{m.version}" for m in ordered]
    if len(set(ids)) != len(ids):
        raise InvalidConfiguration(f"models {ids} name one model version twice; pass each once")
    image = resolve_base_image(base_image, python_version=python_version)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial-"))
    try:
        artifacts = [_materialize(model, staging / "models") for model in ordered]
        (staging / "models").mkdir(exist_ok=True)
        _copy_tree(inference_config.source_directory, staging / "source", iter_source_files(inference_config.source_directory))
        warning = large_source_warning(inference_config.source_directory)
        if warning:
            log(f"[mlnb] warning: {warning}")
        _copy_runtime(staging / "runtime")

        origin, service, notes = _service_requirements(inference_config, artifacts, requirements, python_version)
        log(f"Requirements ({origin}):" + ("" if service else " none"))
        for line in service:
            log(f"  {line}")
        for note in notes:
            log(f"note: {note}")
        everything = _sorted_requirements((*service, *runtime_requirements(collect_data=collect_data)))
        wheelhouse = build_wheelhouse(everything, cache_dir=wheelhouse_cache, python_version=python_version, log=log)
        _link_wheels(wheelhouse, staging / "wheels")
        (staging / "requirements.txt").write_text(_requirements_text(everything), encoding="utf-8")

        if len(ordered) == 1:
            model_dir = f"{MODELS_ROOT}/{ordered[0].name}/{ordered[0].version}"
        else:
            model_dir = MODELS_ROOT
        dockerfile = render_dockerfile(
            base_image=image, entry_script=inference_config.entry_script, model_dir=model_dir, python_version=python_version,
            source_alias=source_alias(inference_config.source_directory),
        )
        (staging / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        (staging / _CONTEXT_MARKER).write_text("A Docker build context made by mlnb.\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    labels = {
        "mlnb.models": ",".join(ids),
        "mlnb.entry-script": inference_config.entry_script,
        "mlnb.base-image": image,
        "mlnb.wheelhouse": wheelhouse.name,
    }
    log(f"Build context ready: {target}")
    return BuildContext(
        directory=target,
        dockerfile=dockerfile,
        requirements=everything,
        service_requirements=service,
        requirements_origin=origin,
        notes=notes,
        labels=labels,
        base_image=image,
        wheelhouse=wheelhouse,
        digest=context_digest(target),
    )


def context_digest(directory: Path) -> str:
    """The SHA-256 of a build context: every file's path, mode and content, in path order.

    Wheels count by file name and size rather than content: a wheel's name carries its
    project, version and build tag, and the wheelhouse cache never rewrites one, so
    hashing the (large) wheels again on every deploy would buy nothing.

    Args:
        directory: a context made by :func:`assemble_context`.

    Returns:
        The hex digest.
    """
    digest = hashlib.sha256()
    root = Path(directory)
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == _CONTEXT_MARKER:
            continue
        relative = path.relative_to(root).as_posix()
        stat = path.stat()
        digest.update(f"{relative}\0{stat.st_mode & 0o777:o}\0".encode())
        if relative.startswith("wheels/"):
            digest.update(f"{stat.st_size}".encode())
        else:
            with open(path, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        digest.update(b"\0")
    return digest.hexdigest()


def _service_requirements(
    inference_config: InferenceConfig, artifacts: list[Path], requirements: Sequence[str] | None, python_version: str
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    if requirements is not None:
        if isinstance(requirements, str):
            raise InvalidConfiguration("requirements takes a list of requirement strings, not one string")
        return "given", tuple(requirements), ()
    environment = inference_config.environment
    if environment is not None:
        notes = list(environment.notes)
        wanted = environment.python_version
        if wanted and _major_minor(wanted) != _major_minor(python_version):
            notes.append(
                f"environment {environment.name!r} asks for Python {wanted}; the image runs Python "
                f"{_major_minor(python_version)} (pass python_version= with a matching base image to change it)"
            )
        return f"environment {environment.name!r}", environment.requirements, tuple(notes)
    inferred = infer_dependencies(inference_config.source_directory, artifacts=artifacts, entry_script=inference_config.entry_script)
    return "inferred", inferred.requirements, inferred.notes


def _materialize(model: PackagedModel, models_dir: Path) -> Path:
    folder = models_dir / model.name / str(model.version)
    folder.mkdir(parents=True)
    artifact = Path(model.materialize(folder))
    expected = folder / model.artifact_name
    if artifact.absolute() != expected.absolute() or not artifact.exists():
        raise RuntimeError(f"model {model.name}:{model.version} materialized to {artifact}, expected {expected}")
    _make_world_readable(folder)
    return artifact


def _make_world_readable(folder: Path) -> None:
    """Let the image's non-root user read every model file, without touching shared inodes."""
    for directory, _, filenames in os.walk(folder):
        os.chmod(directory, 0o755)
        for filename in filenames:
            path = Path(directory) / filename
            if path.stat().st_mode & 0o004:
                continue
            # A hard link shares its mode with the registry's blob: copy instead of chmod-ing it.
            copy = path.with_name(f".{filename}.copy")
            shutil.copyfile(path, copy)
            os.chmod(copy, 0o644)
            copy.replace(path)


def _copy_tree(source: Path, destination: Path, relative_paths: Iterable[Path]) -> None:
    destination.mkdir(parents=True)
    for relative in relative_paths:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target)
        # Fixed modes keep the context identical whatever the umask; executables stay executable.
        os.chmod(target, 0o755 if os.access(source / relative, os.X_OK) else 0o644)


def _copy_runtime(destination: Path) -> None:
    package = destination / "mlnb"
    _copy_tree(_SERVING_DIR, package / "serving", iter_source_files(_SERVING_DIR))
    # An empty package __init__: the runtime must not import the engine's mlnb/__init__.py.
    (package / "__init__.py").write_text("", encoding="utf-8")


def _link_wheels(wheelhouse: Path, destination: Path) -> None:
    destination.mkdir()
    for wheel in sorted(wheelhouse.glob("*.whl")):
        try:
            os.link(wheel, destination / wheel.name)
        except OSError:
            shutil.copyfile(wheel, destination / wheel.name)


def _check_target(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise InvalidConfiguration(f"{target} is a file; choose a directory for the build context")
    if any(target.iterdir()) and not (target / _CONTEXT_MARKER).is_file():
        raise InvalidConfiguration(f"{target} is not empty and not an mlnb build context; choose a new or empty directory")


def _pip_download(directory: Path, python_version: str, log: Callable[[str], None]) -> None:
    command = [
        sys.executable, "-m", "pip", "download",
        "--only-binary=:all:",
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        "--implementation", "cp",
        "--python-version", python_version,
        "--progress-bar", "off",
        "--disable-pip-version-check",
        "--dest", str(directory),
        "--requirement", str(directory / "requirements.txt"),
    ]
    output: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            if line:
                output.append(line)
                log(f"pip: {line}")
    if process.returncode != 0:
        raise DependencyResolutionFailed(_explain_pip_failure(output, python_version))


def _explain_pip_failure(output: list[str], python_version: str) -> str:
    errors = [line[len("ERROR: "):] for line in output if line.startswith("ERROR: ")]
    if not errors:
        tail = output[-1] if output else "no output"
        return f"pip download failed ({tail}); check that pip works in this Python ({sys.executable})"
    missing = next((re.sub(r"^No matching distribution found for ", "", e) for e in errors if e.startswith("No matching distribution")), None)
    reason = _shorten_versions(errors[0])
    what = (
        f"cannot resolve {missing!r} for CPython {python_version} on manylinux x86_64: {reason}. "
        if missing
        else f"cannot resolve the requirements for CPython {python_version} on manylinux x86_64: {reason}. "
    )
    return what + (
        "Pin a version that publishes a wheel for this platform (or drop the requirement) in the Environment or "
        "conda file; an inferred pin is the version installed in this notebook's environment."
    )


def _shorten_versions(line: str) -> str:
    """Keep pip's 'from versions: …' list readable: the last five versions are the useful ones."""
    match = re.search(r"\(from versions: ([^)]*)\)", line)
    if not match:
        return line
    versions = [v.strip() for v in match.group(1).split(",")]
    if len(versions) <= 5:
        return line
    return line[: match.start()] + f"(from versions: …, {', '.join(versions[-5:])})" + line[match.end():]


def _sorted_requirements(requirements: Iterable[str]) -> tuple[str, ...]:
    unique = {" ".join(r.split()) for r in requirements}
    return tuple(sorted(unique, key=lambda r: (canonicalize_name(re.split(r"[\s\[<>=!~;@]", r, maxsplit=1)[0]), r)))


def _requirements_text(requirements: Sequence[str]) -> str:
    return "".join(f"{r}\n" for r in requirements)


def _describe(wheelhouse: Path) -> str:
    wheels = list(wheelhouse.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels)
    return f"{len(wheels)} wheel(s), {size / 1e6:.1f} MB"


def _quote(value: str) -> str:
    """Quote a value for a Dockerfile ENV line (spaces, quotes and ``$`` survive)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _major_minor(version: str) -> str:
    match = re.fullmatch(r"(3\.\d+)(\.\d+)?", version or "")
    if not match:
        raise InvalidConfiguration(f"invalid value for python_version, expected \"3.X\" (not {version!r})")
    return match.group(1)
