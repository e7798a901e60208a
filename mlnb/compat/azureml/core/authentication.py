"""``azureml.core.authentication``: Azure's credentials, accepted and not needed locally.

Notebooks build one of these and pass it as ``auth=``; the workspace calls note that it
is ignored. Nothing here signs in anywhere.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AbstractAuthentication",
    "AzureCliAuthentication",
    "InteractiveLoginAuthentication",
    "MsiAuthentication",
    "ServicePrincipalAuthentication",
]


class AbstractAuthentication:
    """Azure credentials: kept, never used (local workspaces need none)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._arguments = (args, sorted(kwargs))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(unused locally)"


class InteractiveLoginAuthentication(AbstractAuthentication):
    """Azure's interactive sign-in; not needed locally."""


class ServicePrincipalAuthentication(AbstractAuthentication):
    """Azure's service principal; not needed locally."""


class AzureCliAuthentication(AbstractAuthentication):
    """Azure CLI credentials; not needed locally."""


class MsiAuthentication(AbstractAuthentication):
    """Azure managed identity; not needed locally."""
