"""The on-disk layout of a deployment's models and source, shared by every backend.

Models go to ``<root>/<name>/<version>/<artifact>``, as Azure laid them out; one model
deployed sets ``AZUREML_MODEL_DIR`` to ``<root>/<name>/<version>``, several to ``<root>``.
The source directory's files are the app root, which also answers to the source folder's
own name (:func:`source_alias`), as Azure's layout put the folder under the app root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

from mlnb.config import iter_source_files


class DeployableModel(Protocol):
    """What a deployment needs of a model (``mlnb.Model`` is one)."""

    name: str
    version: int
    artifact_name: str

    def materialize(self, target_dir: Path) -> Path:
        """Write the model's file or folder into ``target_dir``; return its path."""
        ...


def model_dir_relative(models: Sequence[DeployableModel]) -> PurePosixPath:
    """``AZUREML_MODEL_DIR`` relative to the models root, for these models."""
    if len(models) == 1:
        return PurePosixPath(models[0].name, str(models[0].version))
    return PurePosixPath()


def stage_models(models: Sequence[DeployableModel], root: Path) -> Path:
    """Lay the models out under ``root`` (replacing what was there).

    Returns:
        The folder to use as ``AZUREML_MODEL_DIR``.
    """
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for model in models:
        model.materialize(root / model.name / str(model.version))
    return root / model_dir_relative(models)


def source_alias(source_directory: Path) -> str | None:
    """The name under which the app root also answers, so ``./<folder name>/file`` opens ``file``.

    Azure ML placed the source directory under the app root by its own name, and entry
    scripts written for it open their files as ``./<source folder name>/...``. The alias is
    the folder's real name (``.`` resolved), unless that name starts with ``.`` or the
    folder holds an entry of the same name (which then wins, as it would have in Azure).

    Args:
        source_directory: the service's source directory.

    Returns:
        The alias, or ``None`` when there is none.
    """
    name = source_directory.resolve().name
    if not name or name.startswith(".") or os.path.lexists(source_directory / name):
        return None
    return name


def stage_source(source_directory: Path, target: Path) -> None:
    """Copy the files of a source directory that ship with a service (replacing ``target``)."""
    staging = target.with_name(target.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for relative in iter_source_files(source_directory):
        destination = staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source_directory / relative, destination)
    alias = source_alias(source_directory)
    if alias is not None:
        (staging / alias).symlink_to(".", target_is_directory=True)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
