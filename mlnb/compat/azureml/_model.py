"""``azureml.core.model.Model``: a registered model version, with Azure's ``deploy``, ``profile`` and ``package``.

It wraps mlnb's model (``model.mlnb``, an :class:`mlnb.Model`); the files and metadata live
in the workspace's registry. Framework names are Azure's spelling (``Model.Framework.PYTORCH``
is ``"PyTorch"``) whatever mlnb stores.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlnb._facade import Model as LocalModel
from mlnb.compat.azureml._cloud import refuse
from mlnb.compat.azureml._configs import (
    AciServiceDeploymentConfiguration,
    AksServiceDeploymentConfiguration,
    WebserviceDeploymentConfiguration,
    backend_for,
)
from mlnb.compat.azureml._datasets import AbstractDataset
from mlnb.compat.azureml._inference import InferenceConfig
from mlnb.compat.azureml._notes import note, note_unused
from mlnb.compat.azureml._package import ModelPackage
from mlnb.compat.azureml._profile import ModelProfile
from mlnb.compat.azureml._protocol import AzureWorkspace, local_workspace
from mlnb.compat.azureml._resources import ResourceConfiguration
from mlnb.compat.azureml._webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice, plan, record_service
from mlnb.config import no_code_inference_config
from mlnb.deploy import deploy as deploy_service
from mlnb.errors import InvalidConfiguration, ModelNotFound
from mlnb.image import ModelPackage as LocalPackage
from mlnb.profiling import profile_model
from mlnb.registry import Model as RegisteredModel

__all__ = ["Framework", "Model"]


class Framework:
    """Model frameworks, spelled as Azure spells them."""

    CUSTOM = "Custom"
    MULTI = "Multi"
    ONNX = "Onnx"
    PYTORCH = "PyTorch"
    SCIKITLEARN = "ScikitLearn"
    TENSORFLOW = "TensorFlow"
    TFKERAS = "TfKeras"

    @classmethod
    def spelled(cls, value: str | None) -> str | None:
        """Azure's spelling of a framework name, matched case-insensitively."""
        if value is None:
            return None
        known: dict[str, str] = {getattr(cls, name).lower(): getattr(cls, name) for name in dir(cls) if name.isupper()}
        return known.get(value.lower(), value)


class Model:
    """A registered model version.

    ``Model(ws, "name")`` is the latest version; ``version=``, ``id="name:version"``,
    ``tags=`` and ``properties=`` narrow it as in Azure.

    Raises:
        ModelNotFound: when no registered version matches.
    """

    Framework = Framework
    workspace: AzureWorkspace

    def __init__(self, workspace: AzureWorkspace, name: str | None = None, id: str | None = None,  # noqa: A002
                 tags: Sequence[Any] | Mapping[str, str] | None = None, properties: Sequence[Any] | Mapping[str, str] | None = None,
                 version: int | None = None, run_id: str | None = None, model_framework: str | None = None,
                 expand: bool = True, **kwargs: Any) -> None:
        if run_id is not None:
            raise ModelNotFound(f"no local model comes from Azure run {run_id!r}; find it by name: Model(ws, 'name')")
        if id is not None or version is not None or (tags is None and properties is None and model_framework is None):
            self._bind(workspace, LocalModel(local_workspace(workspace), None if id is not None else name, id=id, version=version))
            return
        matches = Model.list(workspace, name=name, tags=tags, properties=properties, model_framework=model_framework)
        if not matches:
            raise ModelNotFound(f"no registered model{f' named {name!r}' if name else ''} has those tags, properties and framework")
        self._bind(workspace, matches[0].mlnb)

    def _bind(self, workspace: AzureWorkspace, model: LocalModel) -> None:
        self.workspace = workspace
        self._model = model

    @classmethod
    def _of(cls, workspace: AzureWorkspace, model: RegisteredModel) -> Model:
        handle = cls.__new__(cls)
        handle._bind(workspace, model if isinstance(model, LocalModel) else LocalModel(model.workspace, model.name, version=model.version))
        return handle

    # -- what it is ----------------------------------------------------------------------

    @property
    def mlnb(self) -> LocalModel:
        """mlnb's model behind this one."""
        return self._model

    @property
    def name(self) -> str:
        """The registered name."""
        return self._model.name

    @property
    def version(self) -> int:
        """The version (1, 2, …)."""
        return self._model.version

    @property
    def id(self) -> str:
        """``"name:version"``."""
        return self._model.id

    @property
    def description(self) -> str | None:
        """The description."""
        return self._model.description

    @property
    def tags(self) -> dict[str, str]:
        """The tags."""
        return dict(self._model.tags)

    @property
    def properties(self) -> dict[str, str]:
        """The properties."""
        return dict(self._model.properties)

    @property
    def created_time(self) -> _dt.datetime:
        """When it was registered (UTC)."""
        return self._model.created_time

    @property
    def model_framework(self) -> str | None:
        """The framework, in Azure's spelling."""
        return Framework.spelled(self._model.model_framework)

    @property
    def model_framework_version(self) -> str | None:
        """The framework's version."""
        return self._model.model_framework_version

    @property
    def resource_configuration(self) -> ResourceConfiguration | None:
        """The CPU and memory it needs, when registered with them."""
        resources = self._model.resource_configuration
        return ResourceConfiguration(cpu=resources.cpu, memory_in_gb=resources.memory_in_gb) if resources else None

    created_by: dict[str, str] | None = None
    datasets: dict[str, Any] = {}
    experiment_name: str | None = None
    run_id: str | None = None

    @property
    def url(self) -> str:
        """A ``file://`` URI of the model's read-only copy in the workspace."""
        return self._model.checkout().resolve().as_uri()

    # -- registering and finding ---------------------------------------------------------

    @staticmethod
    def register(workspace: AzureWorkspace, model_path: str | os.PathLike[str], model_name: str,
                 tags: Mapping[str, Any] | None = None, properties: Mapping[str, Any] | None = None,
                 description: str | None = None, datasets: Sequence[Any] | None = None, model_framework: str | None = None,
                 model_framework_version: str | None = None, child_paths: Sequence[str] | None = None,
                 sample_input_dataset: Any = None, sample_output_dataset: Any = None,
                 resource_configuration: ResourceConfiguration | None = None) -> Model:
        """Register a file or folder as the next version of ``model_name``; prints ``Registering model NAME`` as Azure does.

        Args:
            workspace: where to register.
            model_path: a file or a folder.
            model_name: the name; versions count from 1.
            tags: key/value labels.
            properties: key/value facts (added, never changed).
            description: free text.
            datasets: Azure's dataset lineage; not recorded locally.
            model_framework: one of :class:`Model.Framework`.
            model_framework_version: the framework's version.
            child_paths: register only these paths inside the ``model_path`` folder.
            sample_input_dataset, sample_output_dataset: Azure's sample datasets; not recorded locally.
            resource_configuration: the CPU and memory it needs.

        Raises:
            InvalidModelName: for a name the registry refuses.
            InvalidConfiguration: for a missing path or child path.
        """
        note_unused("Model.register", {"datasets": datasets, "sample_input_dataset": sample_input_dataset,
                                       "sample_output_dataset": sample_output_dataset},
                    "dataset lineage is not recorded locally")
        print(f"Registering model {model_name}")
        if child_paths is None:
            registered = LocalModel.register(local_workspace(workspace), model_path, model_name, tags, properties, description,
                                             model_framework, model_framework_version, resource_configuration)
            return Model._of(workspace, registered)
        source = Path(model_path)
        with tempfile.TemporaryDirectory(prefix="mlnb-register-") as scratch:
            subset = Path(scratch) / source.resolve().name
            for child in child_paths:
                origin = source / child
                if not origin.exists():
                    raise InvalidConfiguration(f"child path {child!r} is not in {source}")
                target = subset / child
                target.parent.mkdir(parents=True, exist_ok=True)
                if origin.is_dir():
                    shutil.copytree(origin, target)
                else:
                    shutil.copy2(origin, target)
            registered = LocalModel.register(local_workspace(workspace), subset, model_name, tags, properties, description,
                                             model_framework, model_framework_version, resource_configuration)
        return Model._of(workspace, registered)

    @staticmethod
    def list(workspace: AzureWorkspace, name: str | None = None, tags: Sequence[Any] | Mapping[str, str] | None = None,
             properties: Sequence[Any] | Mapping[str, str] | None = None, run_id: str | None = None, latest: bool = False,
             dataset_id: str | None = None, expand: bool = True, page_count: int = 255,
             model_framework: str | None = None) -> list[Model]:
        """Registered models, newest first within a name, filtered as Azure filters them.

        ``run_id`` and ``dataset_id`` match nothing locally (no model comes from an Azure run or
        dataset); ``expand`` and ``page_count`` only shape Azure's answer.
        """
        if run_id is not None or dataset_id is not None:
            return []
        models = LocalModel.list(local_workspace(workspace), name=name, tags=tags, properties=properties, latest=latest)
        wanted = Framework.spelled(model_framework)
        return [Model._of(workspace, m) for m in models if wanted is None or Framework.spelled(m.model_framework) == wanted]

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: AzureWorkspace | None = None) -> str:
        """The local path of a model's file or folder: inside a service, the deployed copy; elsewhere, the workspace's."""
        return LocalModel.get_model_path(model_name, version, local_workspace(_workspace) if _workspace is not None else None)

    @staticmethod
    def deserialize(workspace: AzureWorkspace, model_payload: Mapping[str, Any]) -> Model:
        """The model :meth:`serialize` described."""
        return Model(workspace, id=model_payload["id"])

    # -- changing ------------------------------------------------------------------------

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        """Add or change tags."""
        self._model.add_tags(tags)

    def remove_tags(self, tags: Sequence[str]) -> None:
        """Remove the tags with these keys."""
        self._model.remove_tags(tags)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add properties (an existing one cannot change).

        Raises:
            InvalidConfiguration: when a key exists with another value.
        """
        self._model.add_properties(properties)

    def update(self, tags: Mapping[str, Any] | None = None, description: str | None = None, sample_input_dataset: Any = None,
               sample_output_dataset: Any = None, resource_configuration: ResourceConfiguration | None = None) -> None:
        """Replace the tags and/or the description.

        Raises:
            InvalidConfiguration: for ``resource_configuration`` (register a new version with it instead).
        """
        if resource_configuration is not None:
            raise InvalidConfiguration("a registered version keeps its resource configuration: register a new version with "
                                       "Model.register(..., resource_configuration=...)")
        note_unused("Model.update", {"sample_input_dataset": sample_input_dataset, "sample_output_dataset": sample_output_dataset},
                    "dataset lineage is not recorded locally")
        self._model.update(tags=tags, description=description)

    def update_tags_properties(self, add_tags: Mapping[str, Any] | None = None, remove_tags: Sequence[str] | None = None,
                               add_properties: Mapping[str, Any] | None = None) -> None:
        """Add and remove tags and add properties in one call."""
        if add_tags:
            self.add_tags(add_tags)
        if remove_tags:
            self.remove_tags(remove_tags)
        if add_properties:
            self.add_properties(add_properties)

    def add_dataset_references(self, datasets: Sequence[Any]) -> None:
        """Not mapped: dataset lineage is not recorded locally.

        Raises:
            InvalidConfiguration: always, pointing at properties.
        """
        raise InvalidConfiguration("dataset references are not recorded locally; record what matters with "
                                   "model.add_properties({'dataset': 'name:version'})")

    def delete(self) -> None:
        """Delete this version.

        Raises:
            ModelNotFound: when it was deleted already.
        """
        self._model.delete()

    def download(self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False, exists_ok: bool | None = None) -> str:
        """Copy the model's file or folder into ``target_dir`` and return its path (``exists_ok`` is Azure's old name)."""
        return self._model.download(target_dir, exist_ok=bool(exist_ok if exists_ok is None else exists_ok))

    def get_sas_urls(self) -> dict[str, str]:
        """Cloud only: Azure gives signed storage URLs."""
        refuse("Model.get_sas_urls()", "model.download(target_dir) or Model.get_model_path(name) give the local files")

    def serialize(self) -> dict[str, Any]:
        """The model's metadata, with Azure's key names."""
        resources = self.resource_configuration
        return {
            "id": self.id, "name": self.name, "version": self.version, "description": self.description,
            "tags": self.tags, "properties": self.properties, "createdTime": self.created_time.isoformat(),
            "frameworkName": self.model_framework, "frameworkVersion": self.model_framework_version,
            "resourceConfiguration": resources.serialize() if resources else None, "runId": None,
            "experimentName": None, "url": self.url, "workspaceName": self.workspace.name,
        }

    # -- deploying, profiling, packaging -------------------------------------------------

    @staticmethod
    def deploy(workspace: AzureWorkspace, name: str, models: Sequence[Any], inference_config: InferenceConfig | None = None,
               deployment_config: WebserviceDeploymentConfiguration | None = None, deployment_target: Any = None,
               overwrite: bool = False, show_output: bool = False) -> Webservice:
        """Deploy models as a local service; returns at once (state ``deploying`` / ``Transitioning``).

        A ``LocalWebservice`` configuration gives a :class:`LocalWebservice`; an
        ``AciWebservice`` one, or none (Azure's default target is ACI), an :class:`AciWebservice`;
        an ``AksWebservice`` one, a Docker Swarm service and an :class:`AksWebservice`. Without
        an inference config, a model registered as ``Model.Framework.SCIKITLEARN`` or ``ONNX``
        gets mlnb's generated entry script.

        Args:
            workspace: the workspace holding the models.
            name: the service name (3-32 lowercase letters, digits or '-').
            models: the models (``Model`` objects or ``"name:version"``).
            inference_config: the entry script, source folder and environment.
            deployment_config: from ``LocalWebservice.deploy_configuration(...)`` or ``AciWebservice.deploy_configuration(...)``.
            deployment_target: an Azure compute target; none exists locally.
            overwrite: replace a service of the same name.
            show_output: wait, printing the build and server logs.

        Raises:
            ServiceExists: when the name is taken and ``overwrite`` is false.
            AzureCloudOnly: for a ``deployment_target``, or an AKS configuration on an engine that is no
                swarm manager (one line says what to do).
            InvalidConfiguration: for any other configuration that cannot work.
        """
        if deployment_target is not None:
            refuse("deployment_target (an Azure compute target)", "pass deployment_config=LocalWebservice.deploy_configuration(...) "
                   "or AciWebservice.deploy_configuration(...)")
        config = deployment_config if deployment_config is not None else AciServiceDeploymentConfiguration()
        local_ic, local_dc = plan(inference_config, config)
        deploy_service(local_workspace(workspace), name, _local_models(models), local_ic, local_dc, overwrite)
        record_service(workspace, name, config)
        kind: type[Webservice] = LocalWebservice
        if isinstance(config, AciServiceDeploymentConfiguration):
            kind = AciWebservice
        elif isinstance(config, AksServiceDeploymentConfiguration):
            kind = AksWebservice
        service = kind._handle(workspace, name)
        if show_output:
            service.wait_for_deployment(show_output=True)
        return service

    @staticmethod
    def profile(workspace: AzureWorkspace, profile_name: str, models: Sequence[Any], inference_config: InferenceConfig,
                input_dataset: Any, cpu: float | None = None, memory_in_gb: float | None = None,
                description: str | None = None, *, backend: str | None = None, duration_s: float | None = None,
                concurrency: Sequence[int] | None = None) -> ModelProfile:
        """Deploy a temporary service, load it with the dataset's requests, and recommend CPU and memory.

        Starts at once; follow it with ``profile.wait_for_completion(show_output=True)``.

        Args:
            workspace: the workspace holding the models.
            profile_name: the profile's (and its temporary service's) name.
            models: the models to serve.
            inference_config: the entry script, source folder and environment.
            input_dataset: a dataset (``Dataset.Tabular.from_delimited_files(...)`` or
                ``Dataset.File.from_files(...)``: one request per row or line), or what mlnb's
                profiler takes (a list of JSON strings, a DataFrame, a ``.jsonl``/``.csv`` path).
            cpu: the CPU limit to profile under (Docker only).
            memory_in_gb: the memory limit to profile under (Docker only).
            description: free text kept with the profile.
            backend: mlnb's backend (default ``$MLNB_AZUREML_BACKEND``, else ``"auto"``).
            duration_s: mlnb's load budget (default 30 s).
            concurrency: mlnb's concurrency levels (default 1, 2, 4, 8).

        Raises:
            InvalidConfiguration: for an empty dataset or a bad name.
        """
        inputs = input_dataset._requests() if isinstance(input_dataset, AbstractDataset) else input_dataset
        local_ic = inference_config._to_mlnb() if isinstance(inference_config, InferenceConfig) else inference_config
        profile = profile_model(local_workspace(workspace), profile_name, _local_models(models), local_ic, inputs, cpu,
                                memory_in_gb, duration_s, concurrency, backend=backend_for(backend))
        return ModelProfile._start(workspace, profile, cpu=cpu, memory_in_gb=memory_in_gb, description=description)

    @staticmethod
    def package(workspace: AzureWorkspace, models: Sequence[Any], inference_config: InferenceConfig | None = None,
                generate_dockerfile: bool = False, image_name: str | None = None, image_label: str | None = None) -> ModelPackage:
        """Package models as a local Docker image, or as a Dockerfile and its build context.

        Starts at once; follow it with ``package.wait_for_creation(show_output=True)``. Without an
        inference config, a scikit-learn or ONNX model gets mlnb's generated entry script.
        The image is tagged ``image_name:image_label`` (default: mlnb's name).
        """
        local = local_workspace(workspace)
        local_models = [m if isinstance(m, RegisteredModel) else LocalModel(local, id=m) for m in _local_models(models)]
        if inference_config is not None:
            local_ic = inference_config._to_mlnb()
        else:
            local_ic = no_code_inference_config(local_models, Path(tempfile.mkdtemp(prefix="nocode-", dir=local.cache_dir)))
        tag = f"{image_name}:{image_label}" if image_name and image_label else image_name
        if image_label and not image_name:
            note("Model.package: image_label needs image_name; mlnb's image name is used")
        return ModelPackage._of(workspace, LocalPackage(local, local_models, local_ic, generate_dockerfile=generate_dockerfile,
                                                        image_name=tag))

    @staticmethod
    def print_configuration(models: Sequence[Any], inference_config: InferenceConfig | None,
                            deployment_config: WebserviceDeploymentConfiguration | None, deployment_target: Any) -> None:
        """Print what a deployment would use."""
        print("Models:", ", ".join(m if isinstance(m, str) else m.id for m in models))
        print("Inference config:", inference_config)
        print("Deployment config:", deployment_config)
        print("Deployment target:", deployment_target)

    def __repr__(self) -> str:
        return (f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, version={self.version}, "
                f"tags={self.tags}, properties={self.properties})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other._model == self._model

    def __hash__(self) -> int:
        return hash(self._model)


def _local_models(models: Sequence[Any]) -> list[RegisteredModel | str]:
    if isinstance(models, (str, Model)) or not isinstance(models, Sequence):
        raise InvalidConfiguration("models must be a list, e.g. [model] or ['name:1']")
    return [m.mlnb if isinstance(m, Model) else m for m in models]
