"""Make Azure ML v1 entry scripts' imports work inside a service when the real modules are absent.

Two mechanisms, both installed only by the server (:func:`install_azureml_shim`, called in
each worker), never in the user's environment:

- ``_shim/azureml``, appended to ``sys.path``: ``azureml.core.model.Model.get_model_path``,
  ``azureml.contrib.services.aml_request`` (``AMLRequest``, ``rawhttp``),
  ``azureml.contrib.services.aml_response`` (``AMLResponse``) and
  ``azureml.monitoring.ModelDataCollector`` (which writes to local files).
- an import hook for ``sklearn.externals.joblib``, which scikit-learn removed in 0.23 and
  which Azure's examples still import: it is served as the installed ``joblib``. A hook,
  because ``sklearn.externals`` is a real installed package that nothing may write into.
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

__all__ = ["SHIM_DIR", "install_azureml_shim"]

SHIM_DIR = Path(__file__).with_name("_shim")
_JOBLIB_ALIAS = "sklearn.externals.joblib"


def install_azureml_shim() -> None:
    """Append the shim folder to ``sys.path`` and install the joblib alias (each once).

    Appending, not prepending, is what makes installed ``azureml`` packages win: they are
    found first, and because both sides are namespace-style packages, a shim sub-package
    (say ``azureml.contrib``) still fills in what the installed ones lack. The joblib alias
    steps aside in the same way for a scikit-learn that still ships ``sklearn.externals.joblib``.
    """
    shim = str(SHIM_DIR)
    if shim not in sys.path:
        sys.path.append(shim)
    if not any(isinstance(finder, _JoblibAlias) for finder in sys.meta_path):
        sys.meta_path.insert(0, _JoblibAlias())


class _JoblibAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve ``sklearn.externals.joblib`` and its submodules as ``joblib`` and its submodules.

    The alias is the same module object, not a copy, so pickles that name
    ``sklearn.externals.joblib.numpy_pickle`` classes (models saved with scikit-learn < 0.23)
    load into joblib's own classes.
    """

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None,
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname == _JOBLIB_ALIAS:
            if importlib.machinery.PathFinder.find_spec(fullname, path) is not None:
                return None  # this scikit-learn still has its own: it wins
        elif not fullname.startswith(_JOBLIB_ALIAS + "."):
            return None
        elif (parent := sys.modules.get(_JOBLIB_ALIAS)) is None or parent is not sys.modules.get("joblib"):
            return None  # a submodule of scikit-learn's own joblib, not of the alias
        if importlib.util.find_spec(_aliased(fullname)) is None:
            return None  # joblib is not installed: the usual ModuleNotFoundError follows
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns whatever sys.modules holds under the name after this.
        sys.modules[module.__name__] = importlib.import_module(_aliased(module.__name__))


def _aliased(name: str) -> str:
    """``sklearn.externals.joblib[.x]`` -> ``joblib[.x]``."""
    return "joblib" + name[len(_JOBLIB_ALIAS):]
