"""The cloud-only classes of the ``azureml`` tree, each with the one line it fails with."""

from __future__ import annotations

from typing import Any

from mlnb.compat.azureml._cloud import cloud_only, refuse

__all__ = [
    "AksCompute", "AmlCompute", "AutoMLConfig", "AutoMLRun", "ComputeInstance", "ComputeTarget", "ContainerImage",
    "Datastore", "Experiment", "Image", "Keyvault", "Run", "RunConfiguration", "RunDetails", "ScriptRun",
    "ScriptRunConfig",
]

_MODULE = "mlnb.compat.azureml._cloud_names"
_TRAIN = "train in the notebook, then Model.register(ws, model_path=..., model_name=...)"
_COMPUTE = "deploy on this machine with LocalWebservice.deploy_configuration() or AciWebservice.deploy_configuration()"

Experiment = cloud_only("Experiment", _TRAIN, _MODULE)
ScriptRun = cloud_only("ScriptRun", _TRAIN, _MODULE)
ScriptRunConfig = cloud_only("ScriptRunConfig", _TRAIN, _MODULE)
RunConfiguration = cloud_only("RunConfiguration", _TRAIN, _MODULE)
Datastore = cloud_only("Datastore", "read local files with Dataset.Tabular.from_delimited_files(path) or Dataset.File.from_files(path)", _MODULE)
Keyvault = cloud_only("Keyvault", "read secrets from environment variables or a local file", _MODULE)
ComputeTarget = cloud_only("ComputeTarget", _COMPUTE, _MODULE)
AksCompute = cloud_only("AksCompute", "AksWebservice.deploy_configuration(...).to_kube_spec(name, image) writes Kubernetes manifests", _MODULE)
AmlCompute = cloud_only("AmlCompute", _TRAIN, _MODULE)
ComputeInstance = cloud_only("ComputeInstance", "this machine is the compute instance", _MODULE)
Image = cloud_only("Image", "Model.package(ws, [model], inference_config) builds a local image", _MODULE)
ContainerImage = cloud_only("ContainerImage", "Model.package(ws, [model], inference_config) builds a local image", _MODULE)
AutoMLConfig = cloud_only("AutoMLConfig", "train with scikit-learn in the notebook, then Model.register(...)", _MODULE)
AutoMLRun = cloud_only("AutoMLRun", "Model.register(ws, model_path=..., model_name=...) registers a model you trained", _MODULE)
RunDetails = cloud_only("RunDetails", "%mlnb opens mlnb's dashboard of models and services", _MODULE)


class Run(cloud_only("Run", _TRAIN, _MODULE)):  # type: ignore[misc]
    """Azure's ``Run``: cloud only, with Azure's signatures for the calls notebooks make."""

    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any) -> Any:
        """Cloud only: runs are tracked in Azure."""
        refuse("Run.get_context()", "log with print() or your own tracker; register models with Model.register(...)")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Cloud only: metrics are kept in Azure's run history."""
        refuse("Run.log()", "log with print() or your own tracker")

    def register_model(self, model_name: str, model_path: str | None = None, tags: dict[str, str] | None = None,
                       properties: dict[str, str] | None = None, model_framework: str | None = None,
                       model_framework_version: str | None = None, description: str | None = None,
                       datasets: list[Any] | None = None, sample_input_dataset: Any = None, sample_output_dataset: Any = None,
                       resource_configuration: Any = None, **kwargs: Any) -> Any:
        """Cloud only: the run's outputs are in Azure."""
        refuse("Run.register_model()", "Model.register(ws, model_path='outputs/model.pkl', model_name=...) registers the local file")
