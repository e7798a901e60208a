"""``mlnb.Model``: the registry's model with Azure's ``deploy``, ``package`` and ``profile``.

Azure's SDK hangs deployment off ``Model`` (``Model.deploy(ws, name, [model], ...)``), but
the registry knows nothing about services. So the public class is the registry's
:class:`mlnb.registry.Model` plus three one-line façades that sit above every layer they
call; the registry's own class stays free of them, and engine code that only needs a model
version takes the registry's class (this one is a subclass, so it passes anywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlnb.config import DeploymentConfiguration, InferenceConfig
from mlnb.deploy import Webservice, deploy
from mlnb.image import ModelPackage
from mlnb.profiling import ModelProfile, profile_model
from mlnb.registry import Model as RegisteredModel
from mlnb.registry import Workspace

__all__ = ["Model"]


class Model(RegisteredModel):
    """A registered model version, with Azure's deployment calls.

    Everything but :meth:`deploy`, :meth:`package` and :meth:`profile` is the registry's
    (:class:`mlnb.registry.Model`): ``Model(ws, "name")``, ``Model.register(...)``,
    ``Model.list(ws)``, ``model.download()`` and the rest.
    """

    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        models: Sequence[RegisteredModel | str],
        inference_config: InferenceConfig | None = None,
        deployment_config: DeploymentConfiguration | None = None,
        overwrite: bool = False,
    ) -> Webservice:
        """Deploy models as a local web service (a Docker container, or a local process).

        Returns at once with the service ``"Transitioning"``; follow it with
        ``service.wait_for_deployment(show_output=True)``.

        Args:
            workspace: the workspace holding the models.
            name: the service name: 3-32 lowercase letters, digits or '-'.
            models: the models to serve (``Model`` objects or ``"name:version"`` ids).
            inference_config: entry script, source directory and environment. Without one,
                models registered as ``Framework.SCIKITLEARN`` or ``Framework.ONNX`` get a
                generated entry script with an input schema.
            deployment_config: from ``LocalWebservice.deploy_configuration(...)``; the
                default picks a free port and Docker when an engine answers.
            overwrite: replace a service of the same name.

        Returns:
            The service handle.

        Raises:
            ServiceExists: when the name is taken and ``overwrite`` is false.
            ModelNotFound: when a model id does not exist.
            PortInUse: when the requested port is taken.
            DockerUnavailable: when Docker was requested and no engine answers.
            InvalidConfiguration: for a bad name, an empty model list, or no entry script for
                a model whose framework mlnb cannot serve without code.

        Example:
            >>> service = Model.deploy(ws, "myservice", [model], inference_config, deployment_config)
            >>> service.wait_for_deployment(show_output=True)
        """
        return deploy(workspace, name, models, inference_config, deployment_config, overwrite)

    @staticmethod
    def package(
        workspace: Workspace,
        models: Sequence[RegisteredModel],
        inference_config: InferenceConfig,
        generate_dockerfile: bool = False,
        image_name: str | None = None,
    ) -> ModelPackage:
        """Package models as a Docker image, or as a Dockerfile and its build context.

        Starts at once; follow it with ``package.wait_for_creation(show_output=True)``.

        Args:
            workspace: the workspace holding the models.
            models: the models to ship.
            inference_config: the entry script, source directory and environment.
            generate_dockerfile: write a Dockerfile and context (see ``package.save(dir)``)
                instead of building an image.
            image_name: the image tag (default: ``mlnb-package/<model>:<hash>``).

        Returns:
            The packaging job.

        Example:
            >>> package = Model.package(ws, [model], inference_config, generate_dockerfile=True)
            >>> package.wait_for_creation(show_output=True)
            >>> package.save("./imagefiles")   # docker build -t img imagefiles; docker run -p 6789:5001 img
        """
        return ModelPackage(
            workspace, models, inference_config, generate_dockerfile=generate_dockerfile, image_name=image_name
        )

    @staticmethod
    def profile(
        workspace: Workspace,
        profile_name: str,
        models: Sequence[RegisteredModel | str],
        inference_config: InferenceConfig,
        input_data: Any,
        cpu: float | None = None,
        memory_in_gb: float | None = None,
        duration_s: float | None = None,
        concurrency: Sequence[int] | None = None,
        **options: Any,
    ) -> ModelProfile:
        """Deploy a temporary service named ``profile_name``, load it, and recommend CPU and memory.

        Starts at once; follow it with ``profile.wait_for_profiling(show_output=True)``. The
        service is removed when the profile ends, fails or is stopped (Ctrl-C). How the
        recommendation is derived: ``docs/profiling.md``.

        Args:
            workspace: the workspace holding the models.
            profile_name: the name of the profile and of its temporary service.
            models: the models to serve.
            inference_config: the entry script, source directory and environment.
            input_data: sample requests: a list of JSON strings, a DataFrame (one request per
                row), or a ``.jsonl`` / ``.csv`` path.
            cpu: the CPU limit to profile under (Docker only; default: none).
            memory_in_gb: the memory limit to profile under (Docker only; default: none).
            duration_s: the budget for warm-up and load (default 30 s).
            concurrency: the concurrency levels (default ``(1, 2, 4, 8)``).
            **options: ``backend``, ``p99_target_ms``, ``memory_headroom``; see
                :func:`mlnb.profiling.profile_model`.

        Returns:
            The running profile.

        Example:
            >>> profile = Model.profile(ws, "profilemymodel", [model], inference_config, [test_sample])
            >>> profile.wait_for_profiling(True)
            >>> profile.get_results()
            {'cpu': 0.4, 'memoryInGB': 0.2}
        """
        return profile_model(
            workspace, profile_name, models, inference_config, input_data, cpu, memory_in_gb, duration_s, concurrency, **options
        )
