"""Images: the build context and Dockerfile every Docker deployment and package is built
from, the host-side wheelhouse, staging of models and source, building on the engine (or
reusing the image of the same content), pushing to a registry, :class:`ModelPackage`
(``Model.package``), and pruning the images mlnb built (:func:`prune_images`).
"""

from __future__ import annotations

from mlnb.image._build import LogSink, build_image, ensure_base_image
from mlnb.image._context import (
    APP_ROOT,
    CONTAINER_PORT,
    MODELS_ROOT,
    SERVER_USER_ID,
    BuildContext,
    assemble_context,
    build_wheelhouse,
    context_digest,
    render_dockerfile,
    resolve_base_image,
    runtime_requirements,
)
from mlnb.image._engine import connect
from mlnb.image._package import ModelPackage
from mlnb.image._prune import DEFAULT_KEEP_IMAGES, KEEP_IMAGES_VARIABLE, PrunedImage, PruneReport, keep_images_setting, prune_images
from mlnb.image._push import PushedImage, push_image
from mlnb.image._reuse import build_or_reuse, content_tag, split_tag
from mlnb.image._staging import DeployableModel, model_dir_relative, source_alias, stage_models, stage_source

__all__ = [
    "APP_ROOT",
    "BuildContext",
    "CONTAINER_PORT",
    "DEFAULT_KEEP_IMAGES",
    "DeployableModel",
    "KEEP_IMAGES_VARIABLE",
    "LogSink",
    "MODELS_ROOT",
    "ModelPackage",
    "PruneReport",
    "PrunedImage",
    "PushedImage",
    "SERVER_USER_ID",
    "assemble_context",
    "build_image",
    "build_or_reuse",
    "build_wheelhouse",
    "connect",
    "content_tag",
    "context_digest",
    "ensure_base_image",
    "keep_images_setting",
    "model_dir_relative",
    "prune_images",
    "push_image",
    "render_dockerfile",
    "resolve_base_image",
    "runtime_requirements",
    "split_tag",
    "stage_models",
    "source_alias",
    "stage_source",
]
