from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

import mlnb

# Every package whose names are public API, with its __all__.
PACKAGES = [
    "mlnb",
    "mlnb.cli",
    "mlnb.config",
    "mlnb.deploy",
    "mlnb.deploy.backends",
    "mlnb.image",
    "mlnb.kube",
    "mlnb.monitoring",
    "mlnb.profiling",
    "mlnb.registry",
    "mlnb.widgets",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    package = importlib.import_module(name)
    assert package.__all__ == sorted(package.__all__)
    for exported in package.__all__:
        assert hasattr(package, exported), f"{name}.{exported}"


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_every_public_name(name: str) -> None:
    package = importlib.import_module(name)
    # Public names the package defines (helpers it imports from elsewhere are not its API).
    public = {
        attribute
        for attribute, value in vars(package).items()
        if not attribute.startswith("_")
        and not isinstance(value, types.ModuleType)
        and (getattr(value, "__module__", "") or "").startswith(name)
    }
    assert public <= set(package.__all__)


def test_version_is_a_string() -> None:
    assert isinstance(mlnb.__version__, str) and mlnb.__version__.count(".") == 2


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        mlnb.Nope  # noqa: B018 - the access is the test


def _modules_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] == 'mlnb')))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_importing_mlnb_loads_no_engine_module() -> None:
    assert _modules_after("import mlnb") == ["mlnb", "mlnb._version"]


def test_the_serving_runtime_loads_no_engine_module() -> None:
    loaded = _modules_after("import mlnb.serving, mlnb.serving.app, mlnb.serving.supervisor, mlnb.serving.worker")
    engine = [m for m in loaded if m not in ("mlnb", "mlnb._version") and not m.startswith("mlnb.serving")]
    assert engine == []


def test_a_public_name_loads_only_what_it_needs() -> None:
    loaded = _modules_after("from mlnb import Workspace")
    assert not any(m.startswith(("mlnb.deploy", "mlnb.image", "mlnb.profiling", "mlnb.magics", "mlnb.widgets")) for m in loaded)
