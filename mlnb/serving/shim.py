"""Make ``import azureml...`` work inside a service when the real packages are absent.

The shim lives in ``_shim/azureml`` and covers what entry scripts use:
``azureml.core.model.Model.get_model_path``, ``azureml.contrib.services.aml_request``
(``AMLRequest``, ``rawhttp``) and ``azureml.contrib.services.aml_response``
(``AMLResponse``). Only the server calls :func:`install_azureml_shim`; nothing is
installed into the user's environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["SHIM_DIR", "install_azureml_shim"]

SHIM_DIR = Path(__file__).with_name("_shim")


def install_azureml_shim() -> None:
    """Append the shim folder to ``sys.path`` (once).

    Appending, not prepending, is what makes installed ``azureml`` packages win: they are
    found first, and because both sides are namespace-style packages, a shim sub-package
    (say ``azureml.contrib``) still fills in what the installed ones lack.
    """
    shim = str(SHIM_DIR)
    if shim not in sys.path:
        sys.path.append(shim)
