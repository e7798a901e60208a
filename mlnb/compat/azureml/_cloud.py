"""Names that only Azure's cloud can back: they import, and fail on use with one line.

``from azureml.core import Experiment`` works so that a notebook's import cell runs; calling
``Experiment(ws, "x")`` or ``Experiment.list(ws)`` raises :class:`AzureCloudOnly`, whose
message names what to do locally instead.
"""

from __future__ import annotations

from typing import Any, NoReturn, cast

from mlnb.errors import MlnbError

__all__ = ["AzureCloudOnly", "CloudOnly", "cloud_only", "refuse"]


class AzureCloudOnly(MlnbError, NotImplementedError):
    """An Azure ML feature that needs Azure's cloud; the message names the local equivalent."""


def refuse(what: str, instead: str) -> NoReturn:
    """Raise :class:`AzureCloudOnly` for ``what``, pointing at ``instead``."""
    raise AzureCloudOnly(f"{what} needs Azure's cloud; locally: {instead}")


class _CloudOnlyType(type):
    """Makes calling the class, or reading a name it does not define, raise its one line."""

    _instead: str

    def __call__(cls, *args: Any, **kwargs: Any) -> NoReturn:
        refuse(f"azureml {cls.__name__}", cls._instead)

    def __getattr__(cls, name: str) -> NoReturn:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # introspection (help, pickle, IPython) must keep working
        refuse(f"azureml {cls.__name__}.{name}", cls._instead)


class CloudOnly(metaclass=_CloudOnlyType):
    """Base of the cloud-only placeholders; subclasses set ``_instead``."""

    _instead = "no local equivalent"


def cloud_only(name: str, instead: str, module: str) -> type[CloudOnly]:
    """A placeholder class called ``name`` that raises, on use, a line pointing at ``instead``.

    Args:
        name: Azure's class name.
        instead: what to do locally, one clause.
        module: the defining module's ``__name__`` (for ``repr`` and pickling).
    """
    placeholder = _CloudOnlyType(name, (CloudOnly,), {"_instead": instead, "__module__": module, "__qualname__": name,
                                               "__doc__": f"Azure's ``{name}``: cloud only; locally, {instead}."})
    return cast("type[CloudOnly]", placeholder)
