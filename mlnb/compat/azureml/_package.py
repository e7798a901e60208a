"""``azureml.core.model.ModelPackage``: mlnb's package (an image, or a Dockerfile and its context).

The image is built by the local Docker engine and stays there, so ``pull()`` has nothing to
fetch; the Dockerfile builds on mlnb's base image (``MLNB_BASE_IMAGE``), so
``get_container_registry()`` has no address or credentials to give.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlnb.compat.azureml._cloud import refuse
from mlnb.compat.azureml._container_registry import ContainerRegistry
from mlnb.compat.azureml._protocol import AzureWorkspace
from mlnb.errors import InvalidConfiguration
from mlnb.image import ModelPackage as LocalPackage

__all__ = ["ModelPackage"]


class ModelPackage:
    """A packaging job and its result, as Azure's class: made by ``Model.package(...)``."""

    workspace: AzureWorkspace
    _package: LocalPackage

    def __init__(self, workspace: AzureWorkspace, operation_id: str, environment: Any) -> None:
        refuse("ModelPackage(workspace, operation_id, environment) (it looks up an Azure packaging operation)",
               "keep the object Model.package(...) returned")

    @classmethod
    def _of(cls, workspace: AzureWorkspace, package: LocalPackage) -> ModelPackage:
        handle = cls.__new__(cls)
        handle.workspace = workspace
        handle._package = package
        return handle

    @property
    def mlnb(self) -> LocalPackage:
        """mlnb's package behind this one."""
        package: LocalPackage = self._package
        return package

    @property
    def generate_dockerfile(self) -> bool:
        """Whether this is a Dockerfile and context rather than an image."""
        return self.mlnb.generate_dockerfile

    @property
    def state(self) -> str:
        """``Running``, ``Succeeded`` or ``Failed``."""
        return self.mlnb.state

    @property
    def location(self) -> str | None:
        """The image's tag in the local Docker engine, once built (``None`` for a Dockerfile package)."""
        return self.mlnb.location

    @property
    def package_build_log_uri(self) -> str | None:
        """Always ``None``: the build log is :meth:`get_logs`."""
        return None

    def wait_for_creation(self, show_output: bool = False) -> None:
        """Wait until the image (or the Dockerfile and context) is ready, printing the log with ``show_output``.

        Raises:
            MlnbError: what stopped the packaging (an unresolvable dependency, no Docker engine, a failed step).
        """
        self.mlnb.wait_for_creation(show_output=show_output)

    def get_logs(self, decode: bool = True, offset: int = 0) -> str | bytes:
        """The packaging log from character ``offset`` (bytes with ``decode=False``)."""
        text = self.mlnb.get_logs()[offset:]
        return text if decode else text.encode()

    def save(self, output_directory: str | Path) -> None:
        """Write the Dockerfile and its whole build context to ``output_directory``.

        Raises:
            InvalidConfiguration: when the folder exists and is not empty.
        """
        self.mlnb.save(output_directory)

    def pull(self) -> None:
        """Nothing to pull: the image was built in the local Docker engine; say which it is.

        Raises:
            InvalidConfiguration: for a Dockerfile package, which has no image.
        """
        self.wait_for_creation()
        if self.location is None:
            raise InvalidConfiguration("this package is a Dockerfile and context: save(dir), then docker build -t myimage dir")
        print(f"Status: Image is up to date for {self.location}")

    def get_container_registry(self) -> ContainerRegistry:
        """The registry the base image comes from: none (it is local), so every field is ``None``."""
        return ContainerRegistry()

    def serialize(self) -> dict[str, Any]:
        """The package's details, with Azure's key names."""
        return {"state": self.state, "location": self.location, "generateDockerfile": self.generate_dockerfile,
                "packageBuildLogUri": None, "workspaceName": self.workspace.name}

    def __repr__(self) -> str:
        fields = [f"workspace={self.workspace!r}", f"generate_dockerfile={self.generate_dockerfile}", f"state={self.state}"]
        if not self.generate_dockerfile and self.state == "Succeeded":
            fields.append(f"location={self.location}")
        return f"ModelPackage({', '.join(fields)})"
