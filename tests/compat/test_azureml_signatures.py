"""Every class and method of the azureml layer has azureml-core 1.61's parameters, per the golden file.

Parameter names, kinds, order and defaults must equal Azure's; mlnb may add keyword-only
options after Azure's parameters. What still differs is :data:`DIFFERENCES`, each with its
reason (docs/porting.md lists the same). Attributes must exist: on the class (a property, a
class attribute or a declared instance attribute), or on an instance made here.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
SIGNATURES = json.loads((HERE / "azureml_signatures.json").read_text())["surface"]

#: (golden path, member) -> why the layer's signature differs from Azure's.
DIFFERENCES: dict[tuple[str, str], str] = {
    ("azureml.contrib.services.aml_request.AMLRequest", "__init__"):
        "(environ, body): the serving runtime builds the request for @rawhttp; entry scripts never make one",
}

_CALLABLE = ("method", "staticmethod", "classmethod", "function")


def _resolve(path: str) -> Any:
    module, _, rest = path.partition(".")
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise AssertionError(f"cannot import {path} ({module}, {rest})")


def _parameters(obj: Any) -> list[dict[str, Any]]:
    params = [{"name": p.name, "kind": p.kind.name.lower(),
               "default": None if p.default is inspect.Parameter.empty else repr(p.default)}
              for p in inspect.signature(obj).parameters.values()]
    return params[1:] if params and params[0]["name"] in ("self", "cls") else params


def _cases() -> Iterator[tuple[str, str]]:
    for path, entry in SIGNATURES.items():
        if "members" in entry:
            for name, member in entry["members"].items():
                if member["what"] in _CALLABLE:
                    yield path, name
        elif entry["what"] == "function":
            yield path, ""


@pytest.fixture(scope="module", autouse=True)
def layer() -> Iterator[None]:
    from mlnb.compat.azureml._hook import activate, deactivate

    assert activate()
    yield
    deactivate()


@pytest.mark.parametrize(("path", "member"), sorted(_cases()), ids=lambda v: v or "()")
def test_parameters_are_azures(path: str, member: str) -> None:
    owner = _resolve(path)
    obj = inspect.getattr_static(owner, member) if member else owner
    if isinstance(obj, (staticmethod, classmethod)):
        obj = getattr(owner, member)
    golden = SIGNATURES[path]["parameters"] if not member else SIGNATURES[path]["members"][member]["parameters"]
    ours = _parameters(obj if member != "__init__" else owner.__init__)
    if (path, member) in DIFFERENCES:
        assert ours != golden, f"{path}.{member} now matches Azure: drop it from DIFFERENCES and docs/porting.md"
        return
    extra = ours[len(golden):]
    assert ours[:len(golden)] == golden
    assert all(p["kind"] == "keyword_only" and p["default"] is not None for p in extra), f"extra options must be keyword-only: {extra}"


def _kind_in_golden(path: str, name: str) -> str:
    return str(SIGNATURES[path]["members"][name]["what"])


def _attributes() -> Iterator[tuple[str, str]]:
    for path, entry in SIGNATURES.items():
        for name, member in entry.get("members", {}).items():
            if member["what"] in ("property", "attribute", "instance_attribute", "class"):
                yield path, name


def _instances() -> dict[str, Any]:
    from azureml.core.conda_dependencies import CondaDependencies
    from azureml.core.container_registry import ContainerRegistry
    from azureml.core.environment import Environment
    from azureml.core.resource_configuration import ResourceConfiguration
    from azureml.core.webservice import AciWebservice, AksWebservice, LocalWebservice

    return {
        "azureml.core.conda_dependencies.CondaDependencies": CondaDependencies(),
        "azureml.core.container_registry.ContainerRegistry": ContainerRegistry(),
        "azureml.core.Environment": Environment("x"),
        "azureml.core.environment.PythonSection": Environment("x").python,
        "azureml.core.environment.DockerSection": Environment("x").docker,
        "azureml.core.resource_configuration.ResourceConfiguration": ResourceConfiguration(cpu=1),
        "azureml.core.webservice.local.LocalWebserviceDeploymentConfiguration": LocalWebservice.deploy_configuration(),
        "azureml.core.webservice.aci.AciServiceDeploymentConfiguration": AciWebservice.deploy_configuration(),
        "azureml.core.webservice.aks.AksServiceDeploymentConfiguration": AksWebservice.deploy_configuration(),
    }


@pytest.mark.parametrize(("path", "name"), sorted(_attributes()))
def test_attributes_exist(path: str, name: str) -> None:
    owner = _resolve(path)
    declared = {n for klass in inspect.getmro(owner) for n in getattr(klass, "__annotations__", {})}
    instance = _instances().get(path)
    assert hasattr(owner, name) or name in declared or (instance is not None and hasattr(instance, name)), f"{path}.{name}"


def test_model_framework_values_are_azures() -> None:
    from azureml.core import Model

    assert {n: getattr(Model.Framework, n) for n in SIGNATURES["azureml.core.Model"]["members"]["Framework"]["attributes"]} == {
        n: json.loads(v.replace("'", '"')) for n, v in SIGNATURES["azureml.core.Model"]["members"]["Framework"]["attributes"].items()}
