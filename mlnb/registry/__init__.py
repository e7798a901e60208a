"""The model registry: workspaces, versioned models and the blob store behind them.

It knows nothing about services: deployment, packaging and profiling are layers above it
(``mlnb.Model`` adds Azure's ``deploy``/``package``/``profile`` façades to :class:`Model`).
"""

from __future__ import annotations

from mlnb.registry._blobstore import BlobStore
from mlnb.registry._collect import SymlinkRefused, symlink_target
from mlnb.registry._model import Framework, Model, ModelList, format_size, parse_model_id, validate_name
from mlnb.registry._private import open_private, private_dir
from mlnb.registry._resources import ResourceConfiguration
from mlnb.registry._workspace import SCHEMA_VERSION, Workspace, check_workspace

__all__ = [
    "BlobStore",
    "Framework",
    "Model",
    "ModelList",
    "ResourceConfiguration",
    "SCHEMA_VERSION",
    "SymlinkRefused",
    "Workspace",
    "check_workspace",
    "format_size",
    "open_private",
    "parse_model_id",
    "private_dir",
    "symlink_target",
    "validate_name",
]
