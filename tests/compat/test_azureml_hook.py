"""The import hook: what ``import mlnb.azureml`` serves, what it loads, and that a real azureml-core wins."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: What Azure notebooks import, module -> names (issue 14's list and the seed page's).
PUBLIC = {
    "azureml.core": ["VERSION", "Workspace", "Model", "Environment", "Dataset", "Webservice", "ContainerRegistry"],
    "azureml.core.workspace": ["Workspace"],
    "azureml.core.model": ["Model", "InferenceConfig", "ModelPackage"],
    "azureml.core.profile": ["ModelProfile"],
    "azureml.core.webservice": ["LocalWebservice", "AciWebservice", "AksWebservice", "Webservice"],
    "azureml.core.webservice.local": ["LocalWebservice", "LocalWebserviceDeploymentConfiguration"],
    "azureml.core.webservice.aci": ["AciWebservice", "AciServiceDeploymentConfiguration"],
    "azureml.core.webservice.aks": ["AksWebservice", "AksServiceDeploymentConfiguration"],
    "azureml.core.webservice.webservice": ["Webservice", "WebserviceDeploymentConfiguration"],
    "azureml.core.environment": ["Environment", "PythonSection", "DockerSection"],
    "azureml.core.conda_dependencies": ["CondaDependencies"],
    "azureml.core.resource_configuration": ["ResourceConfiguration"],
    "azureml.core.container_registry": ["ContainerRegistry"],
    "azureml.core.dataset": ["Dataset"],
    "azureml.core.authentication": ["InteractiveLoginAuthentication", "ServicePrincipalAuthentication"],
    "azureml.data": ["TabularDataset", "FileDataset"],
    "azureml.data.dataset_type_definitions": ["PromoteHeadersBehavior"],
    "azureml.exceptions": ["WebserviceException", "UserErrorException", "ComputeTargetException"],
    "azureml.contrib.services.aml_request": ["AMLRequest", "rawhttp"],
    "azureml.contrib.services.aml_response": ["AMLResponse"],
    "azureml.monitoring": ["ModelDataCollector"],
}

#: Cloud-only names -> a phrase of the local equivalent their one line names.
CLOUD_ONLY = {
    ("azureml.core", "Experiment"): "Model.register",
    ("azureml.core", "Run"): "Model.register",
    ("azureml.core", "Datastore"): "Dataset.Tabular.from_delimited_files",
    ("azureml.core", "ComputeTarget"): "LocalWebservice.deploy_configuration",
    ("azureml.core", "ScriptRunConfig"): "Model.register",
    ("azureml.core.compute", "AksCompute"): "to_kube_spec",
    ("azureml.core.compute", "AmlCompute"): "Model.register",
    ("azureml.core.image", "ContainerImage"): "Model.package",
    ("azureml.train.automl", "AutoMLConfig"): "Model.register",
    ("azureml.train.automl.run", "AutoMLRun"): "Model.register",
    ("azureml.widgets", "RunDetails"): "%mlnb",
}


def run_python(code: str, *, path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLNB_")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path_first) if path_first else "", str(ROOT)]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=environ,
                          timeout=120, check=False)


@pytest.fixture()
def layer() -> Iterator[None]:
    from mlnb.compat.azureml._hook import activate, deactivate

    assert activate()
    yield
    deactivate()


@pytest.mark.parametrize(("module", "names"), sorted(PUBLIC.items()))
def test_each_public_name_imports_through_the_hook(layer: None, module: str, names: list[str]) -> None:
    imported = __import__(module, fromlist=names)
    assert imported.__name__.startswith("mlnb.compat.azureml")
    for name in names:
        assert getattr(imported, name) is not None, f"{module}.{name}"


def test_the_served_module_is_mlnbs_own(layer: None) -> None:
    import azureml.core
    import azureml.core.model

    import mlnb.compat.azureml.core.model as ours

    assert azureml.core.model is ours and azureml.core.model.Model is ours.Model
    assert azureml.core.VERSION == "1.61.0"


def test_a_name_mlnb_lacks_is_the_usual_import_error(layer: None) -> None:
    with pytest.raises(ModuleNotFoundError, match="azureml.core.nothing_like_this"):
        __import__("azureml.core.nothing_like_this")


@pytest.mark.parametrize(("module", "name"), sorted(CLOUD_ONLY))
def test_cloud_only_names_import_and_fail_on_use_with_one_line(layer: None, module: str, name: str) -> None:
    from mlnb.compat.azureml._cloud import AzureCloudOnly

    placeholder = getattr(__import__(module, fromlist=[name]), name)
    for use in (lambda: placeholder(object(), "name"), lambda: placeholder.get(object(), "name")):
        with pytest.raises(AzureCloudOnly) as failure:
            use()
        message = str(failure.value)
        assert "\n" not in message and "needs Azure's cloud" in message and CLOUD_ONLY[(module, name)] in message


def test_cloud_only_classes_stay_introspectable(layer: None) -> None:
    from azureml.core import Experiment

    assert "cloud only" in (Experiment.__doc__ or "") and repr(Experiment).endswith("Experiment'>")
    with pytest.raises(AttributeError):
        Experiment.__wrapped__  # noqa: B018 - the access is the test


def test_the_exceptions_catch_mlnbs_errors(layer: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azureml.core import Webservice, Workspace
    from azureml.exceptions import WebserviceException

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    ws = Workspace.create("myworkspace", show_output=False)
    with pytest.raises(WebserviceException, match="no service"):
        Webservice(ws, "missing")


def test_importing_the_entry_loads_no_engine_until_azureml_is_imported() -> None:
    done = run_python("""
        import sys
        import mlnb.azureml
        print(sorted(m for m in sys.modules if m.startswith(("mlnb.registry", "mlnb.deploy", "mlnb.config"))))
        import azureml.core
        print("mlnb.deploy" in sys.modules)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]
    assert done.stderr == ""


def test_load_ext_activates_the_layer_in_ipython() -> None:
    done = run_python("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "mlnb.azureml")
        shell.run_cell("from azureml.core.webservice import LocalWebservice; print(LocalWebservice.__module__)", store_history=False)
        shell.run_line_magic("unload_ext", "mlnb.azureml")
        import importlib.util
        print(importlib.util.find_spec("azureml"))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["mlnb.compat.azureml._webservice", "None"]


def test_a_real_azureml_core_wins_and_the_layer_says_so_in_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "site"
    (fake / "azureml" / "core").mkdir(parents=True)
    (fake / "azureml" / "__init__.py").write_text("")
    (fake / "azureml" / "core" / "__init__.py").write_text("VERSION = 'real'\n")
    done = run_python("""
        import mlnb.azureml
        import azureml.core
        print(azureml.core.VERSION, mlnb.azureml.is_active())
    """, path_first=fake)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["real", "False"]
    warning = [line for line in done.stderr.splitlines() if "AzureMLCompatWarning" in line]
    assert len(warning) == 1 and "the real azureml-core is installed" in warning[0] and str(fake) in warning[0]


def test_the_serving_shim_is_not_taken_for_the_real_sdk() -> None:
    done = run_python("""
        from mlnb.serving.shim import install_azureml_shim
        install_azureml_shim()
        import azureml.core.model
        import mlnb.azureml
        import azureml.core.model
        print(mlnb.azureml.is_active(), azureml.core.model.__name__)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "mlnb.compat.azureml.core.model"] and "AzureMLCompatWarning" not in done.stderr
