"""The import hook that serves mlnb's ``azureml`` package tree.

:func:`activate` puts :class:`AzureMLFinder` first on ``sys.meta_path``. From then on
``import azureml.X.Y`` loads ``mlnb.compat.azureml.X.Y`` and files it under both names: the
module object is the same, so ``azureml.core.Model is mlnb.compat.azureml.core.Model``. A
name that mlnb's tree lacks is left to the other finders, which then report the usual
``ModuleNotFoundError``.

When a real ``azureml.core`` is importable (azureml-core is installed), :func:`activate`
says so in one warning line and installs nothing: the real SDK wins.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from mlnb.compat.azureml._notes import note

__all__ = ["AzureMLFinder", "activate", "deactivate", "is_active", "real_azureml_core"]

ROOT = "azureml"
TREE = "mlnb.compat.azureml"
# The serving runtime's shim folder (mlnb/serving/_shim): mlnb's own, so never "the real SDK".
_SHIM = str(Path(__file__).resolve().parents[2] / "serving" / "_shim")


def _served(fullname: str) -> str | None:
    """The mlnb module behind ``azureml[.X…]``, or ``None`` for other names."""
    if fullname == ROOT or fullname.startswith(ROOT + "."):
        return TREE + fullname[len(ROOT):]
    return None


class AzureMLFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve ``azureml`` and its submodules from ``mlnb.compat.azureml``."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None,
                  ) -> importlib.machinery.ModuleSpec | None:
        served = _served(fullname)
        if served is None or importlib.util.find_spec(served) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        served = _served(module.__name__)
        assert served is not None  # find_spec answered only for served names
        # The import system returns whatever sys.modules holds under the name after this.
        sys.modules[module.__name__] = importlib.import_module(served)


def real_azureml_core() -> str | None:
    """Where an importable ``azureml.core`` other than mlnb's (this tree, or the serving shim) lives, or ``None``."""
    if is_active():
        return None
    try:
        spec = importlib.util.find_spec(f"{ROOT}.core")
    except (ImportError, ValueError):  # no azureml at all, or a half-imported one
        return None
    if spec is None:
        return None
    where = spec.origin or ", ".join(spec.submodule_search_locations or []) or "an unknown location"
    return None if where.startswith(_SHIM) else where


def _forget_shim_modules() -> None:
    """Drop ``azureml`` modules the serving shim loaded in this process, so this tree serves the names."""
    for name, module in list(sys.modules.items()):
        if _served(name) and str(getattr(module, "__file__", None) or "").startswith(_SHIM):
            del sys.modules[name]


def is_active() -> bool:
    """Whether the hook is installed."""
    return any(isinstance(finder, AzureMLFinder) for finder in sys.meta_path)


def activate() -> bool:
    """Install the hook, unless the real azureml-core is importable.

    Returns:
        Whether mlnb's ``azureml`` tree is now served (also when it already was).
    """
    if is_active():
        return True
    real = real_azureml_core()
    if real is not None:
        note(f"mlnb.azureml: the real azureml-core is installed ({real}); mlnb's azureml layer stays off")
        return False
    _forget_shim_modules()
    sys.meta_path.insert(0, AzureMLFinder())
    return True


def deactivate() -> None:
    """Remove the hook and forget the ``azureml`` modules it served."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, AzureMLFinder)]
    for name in [name for name, module in sys.modules.items() if _served(name) and getattr(module, "__name__", "") == _served(name)]:
        del sys.modules[name]
