"""The lifecycle of a service: start, update, reload, key change and delete, behind
``Model.deploy`` and the :class:`~mlnb.deploy.Webservice` methods.

A deployment is a specification (models, inference config, deployment config, name) plus a
backend. This module turns the specification into a service record and a
:class:`~mlnb.deploy.backends.Deployment` for the backend, and back again for ``update()``
and ``reload()``. It works on names and records; the handle is made above it.

A running service is data: every change validates everything first (configs, models,
backend, port), then has the backend *switch* (prepare the new version while the old one
serves, start it next to it, stop the old one only once the new one is ready). If the new
version fails, the old one keeps serving and the error says so. Every change holds the
service's lock (:class:`~mlnb.deploy._lock.ServiceLock`), so two processes never
interleave their steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import secrets
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlnb.config import (
    DeploymentConfiguration,
    InferenceConfig,
    LocalWebservice,
    infer_dependencies,
    no_code_inference_config,
)
from mlnb.deploy import _records as records
from mlnb.deploy._fingerprint import NO_CODE_PREFIX, fingerprint
from mlnb.deploy._lock import ServiceLock
from mlnb.deploy._monitoring import collected_root
from mlnb.deploy._ports import choose_port, is_free
from mlnb.deploy._records import ServiceRecord, validate_service_name
from mlnb.deploy._traceback import last_traceback
from mlnb.deploy.backends import Backend, Deployment, get_backend, resolve_backend
from mlnb.errors import DeploymentFailed, InvalidConfiguration, MlnbError, ServiceExists
from mlnb.registry import Model, Workspace, check_workspace

#: How long a new version may take to become ready before a switch gives up on it.
SWITCH_TIMEOUT_SECONDS = 600.0
# delete() waits this long for a change under way (a background build starting its container).
_DELETE_WAIT_SECONDS = 30.0


def start_service(
    workspace: Workspace,
    name: str,
    models: Sequence[Model | str],
    inference_config: InferenceConfig | None = None,
    deployment_config: DeploymentConfiguration | None = None,
    overwrite: bool = False,
) -> None:
    """Record a service and start it on its backend; see :meth:`mlnb.Model.deploy`.

    A new name starts at once and the caller waits with ``wait_for_deployment``. With
    ``overwrite=True`` a running service of that name is switched to the new version and
    this returns when the new version serves (keeping the port unless another is given); a
    service that is not running (failed, still building) is replaced directly.

    Raises:
        ServiceExists: when the name is taken and ``overwrite`` is false.
        ServiceBusy: when another change of the service is under way.
        DeploymentFailed: when the new version of a running service failed; the old one
            still serves.
    """
    check_workspace(workspace)
    validate_service_name(name)
    resolved = _resolve_models(workspace, models)
    config = _deployment_config(deployment_config or LocalWebservice.deploy_configuration())
    if inference_config is not None:
        _inference_config(inference_config)
    with ServiceLock(workspace, name):
        existing = records.find(workspace, name)
        if existing is not None and not overwrite:
            raise ServiceExists(
                f"a service named {name!r} is already deployed; pass overwrite=True to replace it, "
                "or call service.update(...)"
            )
        running = existing is not None and _running(existing)
        backend, how = _backend_for(config, existing, running=running)
        port = _port_for(workspace, config, existing, running=running)
        folder = workspace.path / "services" / name
        folder.mkdir(parents=True, exist_ok=True)
        if inference_config is None:
            inference_config = no_code_inference_config(resolved, folder / f"{NO_CODE_PREFIX}{secrets.token_hex(4)}")
        keys = ((existing.keys if existing is not None else None) or _new_keys()) if config.auth_enabled else None
        if existing is not None and running and _unchanged(workspace, existing, resolved, inference_config, config, port, keys):
            return
        if existing is not None and running:
            _switch(workspace, existing, backend, resolved, inference_config, config, port, keys, what="overwrite", rebuild=True)
            return
        if existing is not None:
            get_backend(existing.backend).stop(existing)
            records.remove(workspace, name)
        _start(workspace, name, resolved, inference_config, config, backend, port, keys, folder, how)


def _start(
    workspace: Workspace,
    name: str,
    models: list[Model],
    inference_config: InferenceConfig,
    config: DeploymentConfiguration,
    backend: Backend,
    port: int,
    keys: tuple[str, str] | None,
    folder: Path,
    how: str,
) -> None:
    deployment = _deployment(workspace, name, models, inference_config, config, port, keys, requirements=())
    deployment.log_path.write_text("")
    deployment.log(f"[mlnb] deploying {name!r}: {', '.join(m.id for m in models)}; {how}")
    deployment = dataclasses.replace(deployment, requirements=_requirements(inference_config, models, deployment))
    spec = _spec(models, deployment)
    record = records.save(workspace, ServiceRecord(name=name, backend=backend.name, port=port, spec=spec, keys=keys))
    try:
        runtime = backend.start(deployment)
    except MlnbError as error:
        deployment.log(f"[mlnb] error: {error}")
        records.update(workspace, name, state="Failed", error=str(error))
        raise
    records.update(workspace, record.name, runtime=runtime)


def update_service(
    workspace: Workspace,
    name: str,
    *,
    models: Sequence[Model | str] | None = None,
    inference_config: InferenceConfig | None = None,
    deployment_config: DeploymentConfiguration | None = None,
) -> None:
    """Switch a service to a version with some parts replaced, keeping its port unless a new
    one is given; returns when the new version serves.

    Raises:
        ServiceBusy: when another change of the service is under way.
        DeploymentFailed: when the new version failed; the old one still serves.
    """
    new_ic = _inference_config(inference_config) if inference_config is not None else None
    new_dc = _deployment_config(deployment_config) if deployment_config is not None else None
    with ServiceLock(workspace, name):
        record = records.load(workspace, name)
        current_models, current_ic, current_dc = _restore(workspace, record)
        new_models = _resolve_models(workspace, models) if models is not None else current_models
        config = new_dc or current_dc
        running = _running(record)
        backend, _ = _backend_for(config, record, running=running)
        port = _port_for(workspace, config, record, running=running)
        keys = (record.keys or _new_keys()) if config.auth_enabled else None
        _switch(workspace, record, backend, new_models, new_ic or current_ic, config, port, keys, what="update", rebuild=True)


def reload_service(workspace: Workspace, name: str) -> None:
    """Copy the source directory again and switch to a server running it (no rebuild).

    Raises:
        ServiceBusy: when another change of the service is under way.
        DeploymentFailed: when the new server failed; the old one still serves.
    """
    with ServiceLock(workspace, name):
        record = records.load(workspace, name)
        models, inference_config, config = _restore(workspace, record)
        _switch(workspace, record, get_backend(record.backend), models, inference_config, config, record.port, record.keys,
                what="reload", rebuild=False)


def replace_key(workspace: Workspace, name: str, key: str) -> None:
    """Give a service a new ``"Primary"`` or ``"Secondary"`` key, switching to a server that
    accepts it (the other key keeps working throughout).

    Raises:
        InvalidConfiguration: for another key name, or when auth is not enabled.
        ServiceBusy: when another change of the service is under way.
        DeploymentFailed: when the new server failed; the old one, with the old keys, still serves.
    """
    if key not in ("Primary", "Secondary"):
        raise InvalidConfiguration(f"key must be 'Primary' or 'Secondary' (not {key!r})")
    with ServiceLock(workspace, name):
        record = records.load(workspace, name)
        if record.keys is None:
            raise InvalidConfiguration(f"service {name!r} has no keys: deploy it with auth_enabled=True to require one")
        primary, secondary = record.keys
        keys = (_new_key(), secondary) if key == "Primary" else (primary, _new_key())
        models, inference_config, config = _restore(workspace, record)
        _switch(workspace, record, get_backend(record.backend), models, inference_config, config, record.port, keys,
                what=f"new {key.lower()} key", rebuild=False)


def delete_service(workspace: Workspace, name: str) -> None:
    """Stop a service and forget it; a no-op when it is not recorded.

    Raises:
        ServiceBusy: when another change of the service is still under way after a while.
    """
    lock = ServiceLock(workspace, name)
    lock.acquire(wait=_DELETE_WAIT_SECONDS)
    try:
        record = records.find(workspace, name)
        if record is None:
            return
        get_backend(record.backend).stop(record)
        records.remove(workspace, name)
        shutil.rmtree(record.folder(workspace), ignore_errors=True)
    finally:
        lock.release()


def _switch(
    workspace: Workspace,
    record: ServiceRecord,
    backend: Backend,
    models: list[Model],
    inference_config: InferenceConfig,
    config: DeploymentConfiguration,
    port: int,
    keys: tuple[str, str] | None,
    *,
    what: str,
    rebuild: bool,
) -> None:
    """Have the backend switch the service to a new version, then record it; or say the old one serves."""
    old_serving = _running(record)
    deployment = _deployment(workspace, record.name, models, inference_config, config, port, keys,
                             requirements=tuple(record.spec.get("requirements", ())))
    deployment.log(f"[mlnb] {what} of {record.name!r}: {', '.join(m.id for m in models)}; backend: {backend.name}; "
                   + ("the old version serves until the new one is ready" if old_serving else "the old version is not running"))
    if rebuild:
        deployment = dataclasses.replace(deployment, requirements=_requirements(inference_config, models, deployment))
    current = record
    if backend.name != record.backend:  # only a service that is not running changes backend
        get_backend(record.backend).stop(record)
        current = dataclasses.replace(record, runtime={})
    try:
        runtime = backend.switch(current, deployment, rebuild=rebuild, timeout=SWITCH_TIMEOUT_SECONDS)
    except MlnbError as error:
        old = "the old one is still serving" if old_serving else f"the old one is not running either (state {record.state})"
        deployment.log(f"[mlnb] {what} failed: the new version failed: {error}; {old}")
        _drop_generated(inference_config, unless=InferenceConfig.deserialize(record.spec["inferenceConfig"]))
        message = f"service {record.name!r}: the new version failed: {error}; {old}"
        logs = error.logs if isinstance(error, DeploymentFailed) else ""
        traceback = last_traceback(logs)
        raise DeploymentFailed(f"{message}\n{traceback}" if traceback else message, logs=logs) from None
    deployment.log(f"[mlnb] {what} of {record.name!r} done: the new version serves on 127.0.0.1:{port}")
    records.update(workspace, record.name, backend=backend.name, port=port, spec=_spec(models, deployment), runtime=runtime,
                   keys=keys, state="Healthy", error=None)
    _drop_generated(InferenceConfig.deserialize(record.spec["inferenceConfig"]), unless=inference_config)


def _unchanged(
    workspace: Workspace,
    record: ServiceRecord,
    models: list[Model],
    inference_config: InferenceConfig,
    config: DeploymentConfiguration,
    port: int,
    keys: tuple[str, str] | None,
) -> bool:
    """Whether the service runs exactly this version and is Healthy: then a redeploy leaves it be.

    What counts as the same is :func:`mlnb.deploy._fingerprint.fingerprint`'s.
    """
    recorded = record.spec.get("fingerprint")
    if recorded is None or recorded != fingerprint(models, inference_config, config, port, keys):
        return False
    if not get_backend(record.backend).ready(record):
        return False
    _drop_generated(inference_config, unless=InferenceConfig.deserialize(record.spec["inferenceConfig"]))
    deployment = _deployment(workspace, record.name, models, inference_config, config, port, keys, requirements=())
    deployment.log(f"[mlnb] overwrite of {record.name!r}: unchanged (same models, source, configuration, keys and "
                   "packages), so the running version stays: still Healthy")
    records.update(workspace, record.name, state="Healthy")
    return True


def _drop_generated(inference_config: InferenceConfig, *, unless: InferenceConfig) -> None:
    """Remove a no-code entry script folder mlnb generated, unless ``unless`` uses it too."""
    folder = Path(inference_config.source_directory)
    if folder.name.startswith(NO_CODE_PREFIX) and folder != Path(unless.source_directory):
        shutil.rmtree(folder, ignore_errors=True)


def _deployment(
    workspace: Workspace,
    name: str,
    models: list[Model],
    inference_config: InferenceConfig,
    config: DeploymentConfiguration,
    port: int,
    keys: tuple[str, str] | None,
    *,
    requirements: tuple[str, ...],
) -> Deployment:
    return Deployment(
        name=name,
        folder=workspace.path / "services" / name,
        models=models,
        inference_config=inference_config,
        config=config,
        port=port,
        keys=keys,
        requirements=requirements,
        labels={"mlnb.workspace": str(workspace.path), "mlnb.service": name},
        wheelhouse_cache=workspace.cache_dir / "wheelhouse",
        collect_dir=collected_root(workspace) if config.collect_data else None,
        commit=functools.partial(_commit, workspace, name),
    )


@contextlib.contextmanager
def _commit(workspace: Workspace, name: str, runtime: dict[str, Any], cancel: threading.Event) -> Iterator[bool]:
    """Hold the service's lock, and say whether ``runtime`` is still the recorded one."""
    lock = ServiceLock(workspace, name)
    if not lock.wait(cancel):
        yield False
        return
    try:
        record = records.find(workspace, name)
        yield record is not None and record.runtime == runtime
    finally:
        lock.release()


def _spec(models: list[Model], deployment: Deployment) -> dict[str, Any]:
    return {
        "models": [m.id for m in models],
        "inferenceConfig": deployment.inference_config.serialize(),
        "deploymentConfig": deployment.config.serialize(),
        "requirements": list(deployment.requirements),
        "fingerprint": fingerprint(models, deployment.inference_config, deployment.config, deployment.port, deployment.keys),
    }


def _running(record: ServiceRecord) -> bool:
    """Whether the service's server runs (serving, or still in ``init()``); a backend that
    cannot be reached raises, so nothing is replaced on a guess."""
    return bool(record.runtime) and get_backend(record.backend).status(record).phase == "running"


def _backend_for(config: DeploymentConfiguration, existing: ServiceRecord | None, *, running: bool) -> tuple[Backend, str]:
    if existing is not None and config.backend in ("auto", existing.backend):
        return get_backend(existing.backend), f"backend: {existing.backend}"
    backend, how = resolve_backend(config.backend)
    if existing is not None and running and backend.name != existing.backend:
        raise InvalidConfiguration(
            f"service {existing.name!r} runs on the {existing.backend} backend, and two backends cannot share its port: "
            f"delete it first (service.delete()), or deploy the {backend.name} version under another name"
        )
    return backend, how


def _port_for(workspace: Workspace, config: DeploymentConfiguration, existing: ServiceRecord | None, *, running: bool) -> int:
    """The port of the new version: the one asked for, else the service's own, else a free one."""
    reserved = records.used_ports(workspace) - ({existing.port} if existing is not None else set())
    if existing is not None and config.port in (None, existing.port):
        if running or is_free(existing.port):
            return existing.port
        if config.port is None:
            return choose_port(None, reserved=reserved)
    return choose_port(config.port, reserved=reserved)


def _new_key() -> str:
    return secrets.token_urlsafe(32)


def _new_keys() -> tuple[str, str]:
    return _new_key(), _new_key()


def _deployment_config(config: object) -> DeploymentConfiguration:
    if not isinstance(config, DeploymentConfiguration):
        raise InvalidConfiguration("deployment_config must come from LocalWebservice.deploy_configuration(...)")
    return config


def _inference_config(config: object) -> InferenceConfig:
    if not isinstance(config, InferenceConfig):
        raise InvalidConfiguration("inference_config must be an mlnb.InferenceConfig(entry_script=..., ...)")
    return config


def _requirements(inference_config: InferenceConfig, models: list[Model], deployment: Deployment) -> tuple[str, ...]:
    environment = inference_config.environment
    if environment is not None:
        deployment.log(f"[mlnb] environment {environment.name!r}: {', '.join(environment.requirements) or 'no requirements'}")
        return tuple(environment.requirements)
    artifacts = [Path(model.checkout()) for model in models]
    inferred = infer_dependencies(inference_config.source_directory, artifacts=artifacts, entry_script=inference_config.entry_script)
    for line in inferred.log_lines():
        deployment.log(f"[mlnb] {line}")
    deployment.log("[mlnb] (pass InferenceConfig(environment=...) to choose the requirements yourself)")
    return inferred.requirements


def _resolve_models(workspace: Workspace, models: Sequence[Model | str]) -> list[Model]:
    if isinstance(models, (Model, str)) or not models:
        raise InvalidConfiguration("models must be a non-empty list, e.g. [model] or ['diabetes:1']")
    return [m if isinstance(m, Model) else Model(workspace, id=m) for m in models]


def _restore(workspace: Workspace, record: ServiceRecord) -> tuple[list[Model], InferenceConfig, DeploymentConfiguration]:
    spec = record.spec
    models = [Model(workspace, id=model_id) for model_id in spec["models"]]
    return models, InferenceConfig.deserialize(spec["inferenceConfig"]), DeploymentConfiguration.deserialize(spec["deploymentConfig"])
