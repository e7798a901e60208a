"""Resolve a registered model's path inside a running service.

The deploy side lays models out as ``<root>/<name>/<version>/<artifact>``, where
``<artifact>`` is the basename of what was registered (a file or a folder). With one model
deployed, ``AZUREML_MODEL_DIR`` is ``<root>/<name>/<version>``; with several it is ``<root>``.
``MLNB_MODEL_DIR`` is an alias, used when ``AZUREML_MODEL_DIR`` is unset.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ModelPathNotFound", "get_model_path", "model_dir"]


class ModelPathNotFound(LookupError):
    """The requested model (or version) is not deployed with this service."""


def model_dir() -> Path | None:
    """Return the deployed models' folder from the environment, or ``None`` when unset."""
    value = os.environ.get("AZUREML_MODEL_DIR") or os.environ.get("MLNB_MODEL_DIR")
    return Path(value) if value else None


def get_model_path(model_name: str, version: int | None = None) -> str:
    """Return the local path of a deployed model.

    Works with both layouts: ``AZUREML_MODEL_DIR`` pointing at one model's
    ``<name>/<version>`` folder, or at the root that holds every ``<name>/<version>``.

    Args:
        model_name: The name the model was registered under.
        version: The version to use; ``None`` picks the highest deployed version.

    Returns:
        The path of the single file or folder inside ``<name>/<version>/`` when there is
        exactly one entry there, else the path of that folder.

    Raises:
        ModelPathNotFound: No model folder is configured, or the model or version is
            not deployed with this service.

    Example::

        path = get_model_path("sklearn_mnist")   # .../sklearn_mnist/1/sklearn_mnist_model.pkl
    """
    base = model_dir()
    if base is None:
        raise ModelPathNotFound(
            f"Cannot resolve model {model_name!r}: neither AZUREML_MODEL_DIR nor "
            "MLNB_MODEL_DIR is set. Start the server with --model-dir DIR."
        )
    version_dir = _find_version_dir(base, model_name, version)
    entries = [entry for entry in version_dir.iterdir() if not entry.name.startswith(".")]
    return str(entries[0] if len(entries) == 1 else version_dir)


def _find_version_dir(base: Path, model_name: str, version: int | None) -> Path:
    root = _models_root(base)
    model_folder = root / model_name
    versions = _versions(model_folder)
    if not versions:
        deployed = ", ".join(_deployed_names(root)) or "none"
        raise ModelPathNotFound(
            f"Model {model_name!r} is not deployed with this service (model folder {base}; "
            f"deployed models: {deployed})."
        )
    if version is None:
        return model_folder / str(max(versions))
    if int(version) in versions:
        return model_folder / str(version)
    present = ", ".join(str(v) for v in sorted(versions))
    raise ModelPathNotFound(
        f"Model {model_name!r} version {version} is not deployed with this service "
        f"(deployed versions: {present})."
    )


def _models_root(base: Path) -> Path:
    # Single-model layout: base is <root>/<name>/<version>, so the root is two levels up.
    return base.parent.parent if base.name.isdigit() else base


def _versions(model_folder: Path) -> set[int]:
    if not model_folder.is_dir():
        return set()
    return {int(child.name) for child in model_folder.iterdir() if child.is_dir() and child.name.isdigit()}


def _deployed_names(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(child.name for child in root.iterdir() if _versions(child))
