"""``azureml.core.container_registry.ContainerRegistry``: where an image's base comes from."""

from __future__ import annotations

__all__ = ["ContainerRegistry"]


class ContainerRegistry:
    """A container registry's address and credentials, as Azure's class holds them.

    Locally, images build on a local base image (``MLNB_BASE_IMAGE``) and nothing is
    pulled, so these stay ``None`` unless set; a set address is not used by mlnb's builds.
    """

    def __init__(self) -> None:
        self.address: str | None = None
        self.username: str | None = None
        self.password: str | None = None

    def __repr__(self) -> str:
        return f"ContainerRegistry(address={self.address!r}, username={self.username!r})"
