"""The lifecycle of a service: start, update, reload and delete, behind ``Model.deploy`` and
the :class:`~mlnb.deploy.Webservice` methods.

A deployment is a specification (models, inference config, deployment config, name) plus a
backend. This module turns the specification into a service record and a
:class:`~mlnb.deploy.backends.Deployment` for the backend, and back again for ``update()``
and ``reload()``. It works on names and records; the handle is made above it.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
from collections.abc import Sequence
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
from mlnb.deploy._ports import choose_port
from mlnb.deploy._records import ServiceRecord, validate_service_name
from mlnb.deploy.backends import Backend, Deployment, get_backend, resolve_backend
from mlnb.errors import InvalidConfiguration, MlnbError, ServiceExists
from mlnb.registry import Model, Workspace


def start_service(
    workspace: Workspace,
    name: str,
    models: Sequence[Model | str],
    inference_config: InferenceConfig | None = None,
    deployment_config: DeploymentConfiguration | None = None,
    overwrite: bool = False,
) -> None:
    """Record a service and start it on its backend; see :meth:`mlnb.Model.deploy`."""
    validate_service_name(name)
    resolved = _resolve_models(workspace, models)
    config = deployment_config or LocalWebservice.deploy_configuration()
    if not isinstance(config, DeploymentConfiguration):
        raise InvalidConfiguration("deployment_config must come from LocalWebservice.deploy_configuration(...)")
    existing = records.find(workspace, name)
    if existing is not None:
        if not overwrite:
            raise ServiceExists(
                f"a service named {name!r} is already deployed; pass overwrite=True to replace it, "
                "or call service.update(...)"
            )
        delete_service(workspace, name)
    folder = workspace.path / "services" / name
    folder.mkdir(parents=True, exist_ok=True)
    if inference_config is None:
        inference_config = no_code_inference_config(resolved, folder / "nocode")
    elif not isinstance(inference_config, InferenceConfig):
        raise InvalidConfiguration("inference_config must be an mlnb.InferenceConfig(entry_script=..., ...)")
    backend, how = resolve_backend(config.backend)
    port = choose_port(config.port, reserved=records.used_ports(workspace))
    keys = (secrets.token_urlsafe(32), secrets.token_urlsafe(32)) if config.auth_enabled else None
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
    deployment = Deployment(
        name=name,
        folder=folder,
        models=models,
        inference_config=inference_config,
        config=config,
        port=port,
        keys=keys,
        requirements=(),
        labels=_labels(workspace, name),
        wheelhouse_cache=workspace.cache_dir / "wheelhouse",
    )
    deployment.log_path.write_text("")
    deployment.log(f"[mlnb] deploying {name!r}: {', '.join(m.id for m in models)}; {how}")
    requirements = _requirements(inference_config, models, deployment)
    deployment = dataclasses.replace(deployment, requirements=requirements)
    spec: dict[str, Any] = {
        "models": [m.id for m in models],
        "inferenceConfig": inference_config.serialize(),
        "deploymentConfig": config.serialize(),
        "requirements": list(requirements),
    }
    record = records.save(workspace, ServiceRecord(name=name, backend=backend.name, port=port, spec=spec, keys=keys))
    try:
        runtime = backend.start(deployment)
    except MlnbError as error:
        deployment.log(f"[mlnb] error: {error}")
        records.update(workspace, name, state="Failed", error=str(error))
        raise
    records.update(workspace, record.name, runtime=runtime)


def _labels(workspace: Workspace, name: str) -> dict[str, str]:
    return {"mlnb.workspace": str(workspace.path), "mlnb.service": name}


def _requirements(inference_config: InferenceConfig, models: list[Model], deployment: Deployment) -> tuple[str, ...]:
    environment = inference_config.environment
    if environment is not None:
        deployment.log(f"[mlnb] environment {environment.name!r}: {', '.join(environment.requirements) or 'no requirements'}")
        return tuple(environment.requirements)
    artifacts = [Path(model.checkout()) for model in models]
    inferred = infer_dependencies(inference_config.source_directory, artifacts=artifacts)
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


def update_service(
    workspace: Workspace,
    name: str,
    *,
    models: Sequence[Model | str] | None = None,
    inference_config: InferenceConfig | None = None,
    deployment_config: DeploymentConfiguration | None = None,
) -> None:
    """Redeploy a service with some parts replaced, keeping its port unless a new one is given."""
    record = records.load(workspace, name)
    current_models, current_ic, current_dc = _restore(workspace, record)
    new_models = _resolve_models(workspace, models) if models is not None else current_models
    new_ic = inference_config or current_ic
    new_dc = deployment_config or current_dc
    port = new_dc.port or record.port
    backend = get_backend(record.backend) if new_dc.backend in ("auto", record.backend) else resolve_backend(new_dc.backend)[0]
    current = get_backend(record.backend)
    # A backend that rolls a service over itself (Swarm: new tasks first) keeps the old one serving.
    if not (current is backend and getattr(backend, "updates_in_place", False)):
        current.stop(record)
    records.remove(workspace, name)
    port = choose_port(port, reserved=records.used_ports(workspace))
    keys = record.keys if new_dc.auth_enabled else None
    if new_dc.auth_enabled and keys is None:
        keys = (secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    _start(workspace, name, new_models, new_ic, new_dc, backend, port, keys, record.folder(workspace), f"update; backend: {backend.name}")


def reload_service(workspace: Workspace, name: str) -> None:
    """Copy the source directory again and restart the service's workers (no rebuild)."""
    record = records.load(workspace, name)
    models, inference_config, config = _restore(workspace, record)
    deployment = Deployment(
        name=name,
        folder=record.folder(workspace),
        models=models,
        inference_config=inference_config,
        config=config,
        port=record.port,
        keys=record.keys,
        requirements=tuple(record.spec.get("requirements", ())),
        labels=_labels(workspace, name),
        wheelhouse_cache=workspace.cache_dir / "wheelhouse",
    )
    deployment.log("[mlnb] reload: copying the source directory and restarting the server")
    runtime = get_backend(record.backend).reload(record, deployment)
    records.update(workspace, name, runtime=runtime, state="Transitioning", error=None)


def delete_service(workspace: Workspace, name: str) -> None:
    """Stop a service and forget it; a no-op when it is not recorded."""
    record = records.find(workspace, name)
    if record is None:
        return
    get_backend(record.backend).stop(record)
    records.remove(workspace, name)
    shutil.rmtree(record.folder(workspace), ignore_errors=True)
