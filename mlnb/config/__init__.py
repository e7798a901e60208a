"""Configuration: what a service runs (:class:`InferenceConfig`, :class:`Environment`, the
inferred dependencies, the generated no-code entry scripts) and where it runs
(:class:`DeploymentConfiguration` from :meth:`LocalWebservice.deploy_configuration`).

:class:`ResourceConfiguration` is the registry's, re-exported here where Azure users look
for it.
"""

from __future__ import annotations

from mlnb.config._backend_names import add_backend_name, backend_names, remove_backend_name
from mlnb.config._dependencies import InferredDependencies, infer_dependencies
from mlnb.config._deployment import DeploymentConfiguration, LocalWebservice, check_registry
from mlnb.config._environment import Environment, read_requirements_file
from mlnb.config._inference import InferenceConfig
from mlnb.config._nocode import no_code_inference_config
from mlnb.config._source import iter_source_files, large_source_warning
from mlnb.registry import ResourceConfiguration

__all__ = [
    "DeploymentConfiguration",
    "Environment",
    "InferenceConfig",
    "InferredDependencies",
    "LocalWebservice",
    "ResourceConfiguration",
    "add_backend_name",
    "backend_names",
    "check_registry",
    "infer_dependencies",
    "iter_source_files",
    "large_source_warning",
    "no_code_inference_config",
    "read_requirements_file",
    "remove_backend_name",
]
