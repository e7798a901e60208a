"""Images: the build context and Dockerfile every Docker deployment and package is built
from, the host-side wheelhouse, staging of models and source, building on the engine (or
reusing the image of the same content), pushing to a registry, and :class:`ModelPackage`
(``Model.package``).
"""

from __future__ import annotations

from mlnb.image._build import LogSink, build_image, connect, ensure_base_image
from mlnb.image._context import (
    APP_ROOT,
    CONTAINER_PORT,
    MODELS_ROOT,
    BuildContext,
    assemble_context,
    build_wheelhouse,
    context_digest,
    render_dockerfile,
    resolve_base_image,
    runtime_requirements,
)
from mlnb.image._package import ModelPackage
from mlnb.image._push import PushedImage, push_image
from mlnb.image._reuse import build_or_reuse, content_tag, split_tag
from mlnb.image._staging import DeployableModel, model_dir_relative, stage_models, stage_source

__all__ = [
    "APP_ROOT",
    "BuildContext",
    "CONTAINER_PORT",
    "DeployableModel",
    "LogSink",
    "MODELS_ROOT",
    "ModelPackage",
    "PushedImage",
    "assemble_context",
    "build_image",
    "build_or_reuse",
    "build_wheelhouse",
    "connect",
    "content_tag",
    "context_digest",
    "ensure_base_image",
    "model_dir_relative",
    "push_image",
    "render_dockerfile",
    "resolve_base_image",
    "runtime_requirements",
    "split_tag",
    "stage_models",
    "stage_source",
]
