"""What the Azure classes need of a workspace, without importing the Workspace class.

The Workspace sits at the top of this package (its ``models``, ``webservices`` … views use
every other module), so the modules below it name the workspace by this protocol.
"""

from __future__ import annotations

from typing import Protocol

from mlnb.registry import Workspace as LocalWorkspace

__all__ = ["AzureWorkspace", "local_workspace"]


class AzureWorkspace(Protocol):
    """An Azure-shaped workspace: its name and the mlnb workspace behind it."""

    @property
    def name(self) -> str:
        """The Azure workspace name."""
        ...

    @property
    def mlnb(self) -> LocalWorkspace:
        """The mlnb workspace behind it."""
        ...


def local_workspace(workspace: AzureWorkspace | LocalWorkspace) -> LocalWorkspace:
    """The mlnb workspace for an Azure-shaped one (an mlnb workspace is accepted as it is)."""
    return workspace if isinstance(workspace, LocalWorkspace) else workspace.mlnb
