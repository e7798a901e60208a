"""Record the Azure ML SDK v1 surface that mlnb reproduces, from the real packages.

Run from the repository root::

    python tools/extract_azureml_signatures.py

It creates (or reuses) a scratch virtual environment, ``bench/.venvs/azureml-signatures``
(gitignored), installs the packages in :data:`REQUIREMENTS` into it, runs itself there with
``--introspect``, and writes two golden files that mlnb's compatibility tests compare against:

- ``tests/compat/azureml_signatures.json``: for each name in :data:`SURFACE`, what it is
  (class, method, property, attribute …), its parameters and the first line of its docstring;
- ``tests/compat/azureml_printed.json``: what notebooks print or save for objects that can be
  made without a cloud (:data:`PRINTED` lists them).

Both files are sorted and carry no addresses, temporary paths or times, so a re-run with the
same package versions writes the same bytes. Nothing here contacts Azure: every object made is
a local one (the workspace is built with ``_disable_service_check=True`` and never used), and
host name lookups are blocked in the process that imports the SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = ROOT / "bench" / ".venvs" / "azureml-signatures"
DEFAULT_OUT = ROOT / "tests" / "compat"

#: What is installed. 1.61 is the last azureml-core line; pip picks its newest post-release.
#: azureml-monitoring only ever had pre-releases; 0.1.0a21 is its newest.
REQUIREMENTS = ("azureml-core==1.61.*", "azureml-contrib-services==1.61.*", "azureml-monitoring==0.1.0a21")
DISTRIBUTIONS = ("azureml-core", "azureml-contrib-services", "azureml-monitoring")

#: The surface, as ``dotted import path -> member names``. A path may name a class or a
#: function (an empty tuple then). Names that do not exist are recorded as ``missing``.
SURFACE: dict[str, tuple[str, ...]] = {
    "azureml.core.Workspace": (
        "__init__", "create", "datasets", "delete", "discovery_url", "environments", "from_config", "get",
        "get_default_datastore", "get_details", "list", "location", "models", "name", "resource_group",
        "sku", "subscription_id", "tags", "webservices", "write_config"),
    "azureml.core.Model": (
        "Framework", "__init__", "add_dataset_references", "add_properties", "add_tags", "created_by",
        "created_time", "datasets", "delete", "deploy", "description", "deserialize", "download",
        "experiment_name", "get_model_path", "get_sas_urls", "id", "list", "model_framework",
        "model_framework_version", "name", "package", "print_configuration", "profile", "properties",
        "register", "remove_tags", "resource_configuration", "run_id", "serialize", "tags", "update",
        "update_tags_properties", "url", "version", "workspace"),
    "azureml.core.model.InferenceConfig": (
        "__init__", "base_image", "base_image_registry", "conda_file", "description", "enable_gpu",
        "entry_script", "environment", "extra_docker_file_steps", "runtime", "source_directory",
        "validate_configuration"),
    "azureml.core.model.ModelPackage": (
        "__init__", "generate_dockerfile", "get_container_registry", "get_logs", "location",
        "package_build_log_uri", "pull", "save", "serialize", "state", "wait_for_creation", "workspace"),
    "azureml.core.profile.ModelProfile": (
        "__init__", "average_latency_in_ms", "description", "error", "get_details", "id",
        "latency_percentile_50_in_ms", "latency_percentile_90_in_ms", "latency_percentile_95_in_ms",
        "latency_percentile_99_in_ms", "max_utilized_cpu", "max_utilized_memory",
        "measured_queries_per_second", "name", "recommended_cpu", "recommended_memory", "requested_cpu",
        "requested_memory_in_gb", "serialize", "state", "wait_for_completion", "wait_for_profiling",
        "workspace"),
    "azureml.core.resource_configuration.ResourceConfiguration": (
        "__init__", "cpu", "deserialize", "gpu", "memory_in_gb", "serialize"),
    "azureml.core.container_registry.ContainerRegistry": ("__init__", "address", "password", "username"),
    "azureml.core.Environment": (
        "__init__", "add_private_pip_wheel", "build", "build_local", "clone", "docker", "environment_variables",
        "from_conda_specification", "from_docker_image", "from_dockerfile", "from_existing_conda_environment",
        "from_pip_requirements", "get", "inferencing_stack_version", "list", "load_from_directory", "name",
        "python", "register", "save_to_directory", "version"),
    "azureml.core.environment.PythonSection": (
        "__init__", "conda_dependencies", "conda_dependencies_file", "interpreter_path",
        "user_managed_dependencies"),
    "azureml.core.environment.DockerSection": (
        "__init__", "arguments", "base_dockerfile", "base_image", "base_image_registry", "enabled",
        "gpu_support", "shm_size"),
    "azureml.core.conda_dependencies.CondaDependencies": (
        "__init__", "add_channel", "add_conda_package", "add_pip_package", "as_dict", "conda_channels",
        "conda_packages", "create", "get_python_version", "merge_requirements", "pip_options", "pip_packages",
        "remove_channel", "remove_conda_package", "remove_pip_package", "save", "save_to_file",
        "serialize_to_string", "set_pip_option", "set_python_version"),
    "azureml.core.webservice.Webservice": (
        "__init__", "auth_enabled", "check_for_existing_webservice", "compute_type", "created_time", "delete",
        "description", "deserialize", "error", "get_keys", "get_logs", "get_token", "image_id", "list", "name",
        "properties", "regen_key", "reload", "run", "scoring_uri", "serialize", "state", "swagger_uri", "tags",
        "token_auth_enabled", "update", "wait_for_deployment", "workspace"),
    "azureml.core.webservice.LocalWebservice": (
        "__init__", "delete", "deploy_configuration", "deploy_to_cloud", "get_keys", "get_logs", "list", "port",
        "reload", "run", "scoring_uri", "serialize", "state", "swagger_uri", "update", "wait_for_deployment"),
    "azureml.core.webservice.AciWebservice": (
        "__init__", "add_properties", "add_tags", "delete", "deploy_configuration", "get_keys", "get_logs",
        "regen_key", "remove_tags", "run", "scoring_uri", "serialize", "state", "swagger_uri", "update",
        "wait_for_deployment"),
    "azureml.core.webservice.AksWebservice": (
        "__init__", "add_properties", "add_tags", "delete", "deploy_configuration", "get_access_token",
        "get_keys", "get_logs", "get_token", "regen_key", "remove_tags", "run", "scoring_uri", "serialize",
        "state", "swagger_uri", "update", "wait_for_deployment"),
    "azureml.core.webservice.local.LocalWebserviceDeploymentConfiguration": (
        "__init__", "print_deploy_configuration", "validate_configuration"),
    "azureml.core.webservice.aci.AciServiceDeploymentConfiguration": (
        "__init__", "print_deploy_configuration", "validate_configuration"),
    "azureml.core.webservice.aks.AksServiceDeploymentConfiguration": (
        "__init__", "print_deploy_configuration", "validate_configuration"),
    "azureml.core.Dataset": ("File", "Tabular", "get_by_id", "get_by_name"),
    "azureml.core.Dataset.Tabular": ("from_delimited_files", "from_json_lines_files", "from_parquet_files"),
    "azureml.core.Dataset.File": ("from_files",),
    "azureml.data.TabularDataset": ("register", "take", "to_pandas_dataframe"),
    "azureml.data.FileDataset": ("download", "mount", "register", "to_path"),
    "azureml.core.Run": ("get_context", "log", "register_model"),
    "azureml.monitoring.ModelDataCollector": ("__init__", "add_correlations", "collect"),
    "azureml.contrib.services.aml_request.AMLRequest": ("__init__",),
    "azureml.contrib.services.aml_request.rawhttp": (),
    "azureml.contrib.services.aml_response.AMLResponse": ("__init__",),
}

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SELF_ASSIGNMENT = r"self\.{}\s*=(?!=)"


def main(argv: list[str] | None = None) -> int:
    """Install the packages into the scratch environment and write the golden files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"scratch environment (default {DEFAULT_VENV})")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT, help=f"where the JSON goes (default {DEFAULT_OUT})")
    parser.add_argument("--introspect", type=Path, help=argparse.SUPPRESS)  # inside the venv: write here
    args = parser.parse_args(argv)
    if args.introspect:
        _block_network()
        args.introspect.write_text(json.dumps(introspect()))
        return 0
    python = _prepare_venv(args.venv)
    with tempfile.TemporaryDirectory() as tmp:
        # The SDK prints notices on stdout, so the result travels in a file.
        subprocess.run([str(python), __file__, "--introspect", f"{tmp}/result.json"], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        result = json.loads(Path(tmp, "result.json").read_text())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("signatures", "printed"):
        path = args.out_dir / f"azureml_{name}.json"
        path.write_text(_dumps(result[name], depth=4) + "\n")
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size} bytes)")
    return 0


def _dumps(value: Any, *, depth: int, indent: int = 0) -> str:
    """Sorted JSON with one line per entry ``depth`` levels down: small, and diffs read well."""
    if not isinstance(value, dict) or not value or indent >= depth:
        return json.dumps(value, sort_keys=True)
    pad = " " * (indent + 1)
    items = [f"{pad}{json.dumps(key)}: {_dumps(value[key], depth=depth, indent=indent + 1)}" for key in sorted(value)]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def _prepare_venv(path: Path) -> Path:
    """Create the environment if needed and install :data:`REQUIREMENTS`; return its python."""
    python = path / "bin" / "python"
    if not python.exists():
        venv.create(path, with_pip=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
    return python


# Everything below runs inside the scratch environment, with the real azureml packages.


def _block_network() -> None:
    """Make every host name lookup fail, so no case can reach a cloud even by accident."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network access is blocked while extracting the Azure ML surface")

    socket.getaddrinfo = refuse


def introspect() -> dict[str, Any]:
    """Both golden documents, as plain JSON data."""
    from importlib.metadata import version

    versions = {name: version(name) for name in DISTRIBUTIONS}
    header = {"azureml.core.VERSION": _resolve("azureml.core.VERSION"), "distributions": versions,
              "python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    signatures = {
        "_about": {
            **header,
            "format": (
                "surface[path].members[name] = {what, doc?, parameters?, settable?, value?}. what is class, "
                "method, staticmethod, classmethod, function (a plain function stored on the class, called on "
                "it), property, attribute (class level), instance_attribute (assigned as self.<name> in the "
                "class's source) or missing. parameters omit self/cls; each is "
                "{name, kind, default}, default being the repr of the default or null when there is none. "
                "doc is the first line of the docstring. other_public lists the public names that "
                "the class and its azureml bases define and that are not captured in detail."),
        },
        "surface": {path: _describe_path(path, members) for path, members in SURFACE.items()},
    }
    printed = {"_about": {**header, "format": "case -> what the real objects print or save; error when it "
                          "could not be made without a cloud. <tmp> stands for a scratch folder."},
               "cases": _printed_cases()}
    return {"signatures": signatures, "printed": printed}


def _resolve(path: str) -> Any:
    """Import the longest importable module prefix of ``path`` and walk the rest as attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _describe_path(path: str, members: tuple[str, ...]) -> dict[str, Any]:
    obj = _resolve(path)
    if not inspect.isclass(obj):
        return {"what": "function", "module": obj.__module__, "doc": _doc(obj), "parameters": _parameters(obj)}
    described = {name: _describe_member(obj, name) for name in members}
    # Names from Azure's own classes only: AMLRequest's Flask ancestry would swamp the list.
    public = {name for klass in obj.__mro__ if klass.__module__.startswith("azureml.")
              for name in vars(klass) if not name.startswith("_")}
    return {
        "what": "class",
        "module": obj.__module__,
        "qualname": obj.__qualname__,
        "bases": [f"{base.__module__}.{base.__qualname__}" for base in obj.__bases__],
        "doc": _doc(obj),
        "members": described,
        "other_public": sorted(public - set(members)),
    }


def _describe_member(cls: type, name: str) -> dict[str, Any]:
    try:
        raw = inspect.getattr_static(cls, name)
    except AttributeError:
        if _assigned_on_self(cls, name):
            return {"what": "instance_attribute"}
        return {"what": "missing"}
    if isinstance(raw, staticmethod):
        return {"what": "staticmethod", "doc": _doc(raw.__func__), "parameters": _parameters(raw.__func__)}
    if isinstance(raw, classmethod):
        return {"what": "classmethod", "doc": _doc(raw.__func__), "parameters": _parameters(raw.__func__)[1:]}
    if isinstance(raw, property):
        return {"what": "property", "doc": _doc(raw), "settable": raw.fset is not None}
    if inspect.isclass(raw):
        constants = {key: _repr(value) for key, value in vars(raw).items()
                     if not key.startswith("_") and not callable(value)}
        return {"what": "class", "doc": _doc(raw), "attributes": constants}
    if inspect.isfunction(raw):
        # A plain function whose first parameter is not self is called on the class
        # (azureml.core.Dataset copies some static methods of its base that way).
        parameters = _parameters(raw)
        if parameters and parameters[0]["name"] == "self":
            return {"what": "method", "doc": _doc(raw), "parameters": parameters[1:]}
        return {"what": "function", "doc": _doc(raw), "parameters": parameters}
    return {"what": "attribute", "value": _repr(raw)}


def _assigned_on_self(cls: type, name: str) -> bool:
    pattern = re.compile(_SELF_ASSIGNMENT.format(re.escape(name)))
    for klass in cls.__mro__:
        if klass.__module__.startswith("azureml."):
            with contextlib.suppress(OSError, TypeError):
                if pattern.search(inspect.getsource(klass)):
                    return True
    return False


def _parameters(func: Callable[..., Any]) -> list[dict[str, Any]]:
    return [
        {"name": param.name, "kind": param.kind.name.lower(),
         "default": None if param.default is inspect.Parameter.empty else _repr(param.default)}
        for param in inspect.signature(func).parameters.values()
    ]


def _doc(obj: Any) -> str | None:
    doc = inspect.getdoc(obj)
    return doc.strip().splitlines()[0] if doc and doc.strip() else None


def _repr(value: Any) -> str:
    return _ADDRESS.sub("", repr(value))


def _printed_cases() -> dict[str, Any]:
    """Run each case in :func:`_cases` in a scratch folder; record its result or its error."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, _chdir(Path(tmp)):
        for name, case in _cases(Path(tmp)).items():
            try:
                results[name] = _scrub(case(), Path(tmp))
            except Exception as exc:  # a case that needs a cloud: say so, keep the others
                message = str(getattr(exc, "message", None) or exc).strip().splitlines()
                results[name] = {"error": _scrub(f"{type(exc).__name__}: {message[0] if message else ''}", Path(tmp))}
    return results


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _scrub(value: Any, tmp: Path) -> Any:
    """Make ``value`` plain JSON with no scratch paths or addresses."""
    if isinstance(value, dict):
        return {str(key): _scrub(item, tmp) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item, tmp) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = _ADDRESS.sub("", value) if isinstance(value, str) else _repr(value)
    return text.replace(str(tmp.resolve()), "<tmp>").replace(str(tmp), "<tmp>")


def _attributes(obj: Any) -> dict[str, Any]:
    return {key: value for key, value in vars(obj).items() if not key.startswith("_")}


def _cases(tmp: Path) -> dict[str, Callable[[], Any]]:
    """The printed-form cases: ``description -> function returning what to record``."""
    # Looked up by name, so that type checking this file needs no azureml installed.
    aci, aks, local = (_resolve(f"azureml.core.webservice.{name}Webservice") for name in ("Aci", "Aks", "Local"))
    conda_dependencies = _resolve("azureml.core.conda_dependencies.CondaDependencies")
    environment_class = _resolve("azureml.core.Environment")
    inference_config = _resolve("azureml.core.model.InferenceConfig")
    model = _resolve("azureml.core.Model")
    resource_configuration = _resolve("azureml.core.resource_configuration.ResourceConfiguration")

    (tmp / "score.py").write_text("def init():\n    pass\n\n\ndef run(data):\n    return data\n")
    (tmp / "requirements.txt").write_text("scikit-learn\nnumpy\n")
    (tmp / "env").mkdir()
    (tmp / "env" / "myenv.yml").write_text(  # the seed page's conda file
        "name: project_environment\ndependencies:\n  - python=3.6.2\n  - scikit-learn=0.20.0\n  - pip:\n"
        "    - azureml-defaults\n    - inference-schema[numpy-support]\n")
    (tmp / "x" / "y").mkdir(parents=True)
    (tmp / "x" / "y" / "score.py").write_text((tmp / "score.py").read_text())

    def environment(env: Any) -> dict[str, Any]:
        return {
            "repr": repr(env),
            "name": env.name, "version": env.version,
            "inferencing_stack_version": env.inferencing_stack_version,
            "environment_variables": env.environment_variables,
            "python.user_managed_dependencies": env.python.user_managed_dependencies,
            "python.interpreter_path": env.python.interpreter_path,
            "python.conda_dependencies_file": env.python.conda_dependencies_file,
            "python.conda_dependencies.serialize_to_string()": env.python.conda_dependencies.serialize_to_string(),
            "docker.enabled": env.docker.enabled, "docker.base_image": env.docker.base_image,
            "docker.base_dockerfile": env.docker.base_dockerfile, "docker.shm_size": env.docker.shm_size,
        }

    def conda(deps: Any) -> dict[str, Any]:
        return {"serialize_to_string()": deps.serialize_to_string(), "pip_packages": list(deps.pip_packages),
                "conda_packages": list(deps.conda_packages), "conda_channels": list(deps.conda_channels),
                "get_python_version()": deps.get_python_version()}

    def deploy_config(config: Any) -> dict[str, Any]:
        return {"type": f"{type(config).__module__}.{type(config).__qualname__}", "attributes": _attributes(config)}

    def with_repr(obj: Any, **extra: Any) -> dict[str, Any]:
        return {"repr": repr(obj), "attributes": _attributes(obj), **extra}

    def resources(config: Any) -> dict[str, Any]:
        return with_repr(config, **{"serialize()": config.serialize()})

    def workspace_config() -> dict[str, Any]:
        auth = _resolve("azureml.core.authentication.ServicePrincipalAuthentication")(
            tenant_id="tenant", service_principal_id="principal", service_principal_password="unused")
        ws = _resolve("azureml.core.Workspace")("00000000-0000-0000-0000-000000000000", "my-resource-group", "myworkspace", auth=auth,
                       _disable_service_check=True)
        (tmp / "wsconfig").mkdir()
        ws.write_config(path=str(tmp / "wsconfig"))
        written = sorted(p for p in (tmp / "wsconfig").rglob("*") if p.is_file())
        return {"repr": repr(ws), "write_config(path)": {
            str(p.relative_to(tmp / "wsconfig")): json.loads(p.read_text()) for p in written}}

    pip = ["azureml-defaults", "inference-schema[numpy-support]"]
    return {
        "CondaDependencies()": lambda: conda(conda_dependencies()),
        "CondaDependencies.create(pip_packages=[azureml-defaults, inference-schema[numpy-support]], "
        "conda_packages=[scikit-learn==0.20.0])":
            lambda: conda(conda_dependencies.create(pip_packages=pip, conda_packages=["scikit-learn==0.20.0"])),
        "CondaDependencies.create(python_version='3.11', pip_packages=[scikit-learn], conda_packages=[numpy])":
            lambda: conda(conda_dependencies.create(python_version="3.11", pip_packages=["scikit-learn"],
                                                    conda_packages=["numpy"])),
        "DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE": lambda: [_resolve("azureml.core.environment.DEFAULT_CPU_IMAGE"),
                                                        _resolve("azureml.core.environment.DEFAULT_GPU_IMAGE")],
        "Environment('x')": lambda: environment(environment_class("x")),
        "Environment.from_pip_requirements('myenv', 'requirements.txt')":
            lambda: environment(environment_class.from_pip_requirements("myenv", "requirements.txt")),
        "Environment.from_conda_specification('myenv', 'env/myenv.yml')":
            lambda: environment(environment_class.from_conda_specification("myenv", "env/myenv.yml")),
        "LocalWebservice.deploy_configuration()": lambda: deploy_config(local.deploy_configuration()),
        "LocalWebservice.deploy_configuration(port=8890)": lambda: deploy_config(local.deploy_configuration(port=8890)),
        "AciWebservice.deploy_configuration()": lambda: deploy_config(aci.deploy_configuration()),
        "AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1)":
            lambda: deploy_config(aci.deploy_configuration(cpu_cores=1, memory_gb=1)),
        "AksWebservice.deploy_configuration()": lambda: deploy_config(aks.deploy_configuration()),
        "AksWebservice.deploy_configuration(cpu_cores=1, memory_gb=1)":
            lambda: deploy_config(aks.deploy_configuration(cpu_cores=1, memory_gb=1)),
        "AksWebservice.deploy_configuration(autoscale_enabled=True, autoscale_min_replicas=1, "
        "autoscale_max_replicas=4)":
            lambda: deploy_config(aks.deploy_configuration(
                autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=4)),
        "ResourceConfiguration(cpu=1, memory_in_gb=0.5)":
            lambda: resources(resource_configuration(cpu=1, memory_in_gb=0.5)),
        "InferenceConfig(entry_script='score.py', source_directory=<tmp>, environment=Environment('myenv'))":
            lambda: with_repr(inference_config(entry_script="score.py", source_directory=str(tmp),
                                               environment=environment_class("myenv"))),
        "InferenceConfig(runtime='python', entry_script='x/y/score.py', conda_file='env/myenv.yml')":
            lambda: with_repr(inference_config(runtime="python", entry_script="x/y/score.py",
                                               conda_file="env/myenv.yml")),
        "Model.Framework": lambda: {key: value for key, value in vars(model.Framework).items()
                                    if not key.startswith("_")},
        "Workspace(...) and write_config(path)": workspace_config,
    }


if __name__ == "__main__":
    sys.exit(main())
