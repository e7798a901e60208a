"""Errors a user of mlnb can cause, each with a message that says what to do.

Every error the engine raises for a user mistake or an unmet precondition is a
subclass of :class:`MlnbError`; where a builtin fits, the class also subclasses it,
so ``except LookupError`` keeps working for code that does not know mlnb::

    MlnbError
    ├── WorkspaceNotFound            (FileNotFoundError)
    ├── ModelNotFound                (LookupError)
    ├── ServiceNotFound              (LookupError)
    ├── InvalidModelName             (ValueError)
    ├── InvalidConfiguration         (ValueError)
    │   └── EntryScriptError
    ├── ModelExists                  (FileExistsError)
    ├── ServiceExists                (FileExistsError)
    ├── ServiceBusy
    ├── DockerUnavailable            (ConnectionError)
    ├── BaseImageNotFound            (LookupError)
    ├── DependencyResolutionFailed
    ├── PackagingFailed
    ├── PortInUse                    (OSError)
    ├── DeploymentFailed
    ├── DeploymentTimeout            (TimeoutError)
    ├── PushFailed
    ├── NotInSwarm
    ├── ScoringError
    ├── ProfileFailed
    └── CollectedDataNotFound        (FileNotFoundError)

Bugs are not MlnbErrors: they keep their own type and traceback.
"""

from __future__ import annotations


class MlnbError(Exception):
    """Root of every error mlnb raises on purpose."""


class WorkspaceNotFound(MlnbError, FileNotFoundError):
    """No ``.mlnb`` workspace where one was looked for."""


class ModelNotFound(MlnbError, LookupError):
    """No registered model with that name (and version)."""


class ServiceNotFound(MlnbError, LookupError):
    """No deployed service with that name."""


class InvalidModelName(MlnbError, ValueError):
    """A model name that the registry does not accept."""


class InvalidConfiguration(MlnbError, ValueError):
    """An option or configuration value that cannot work."""


class EntryScriptError(InvalidConfiguration):
    """An entry script that is missing, is not Python, or does not parse."""


class ModelExists(MlnbError, FileExistsError):
    """A download target that already holds the model's files."""


class ServiceExists(MlnbError, FileExistsError):
    """A service name already deployed, without ``overwrite=True``."""


class ServiceBusy(MlnbError):
    """Another deploy, update, reload or delete of the same service is under way."""


class DockerUnavailable(MlnbError, ConnectionError):
    """Docker was asked for, but no engine answers."""


class BaseImageNotFound(MlnbError, LookupError):
    """The base image is neither present locally nor pullable."""


class DependencyResolutionFailed(MlnbError):
    """A dependency could not be resolved into the wheelhouse."""


class PackagingFailed(MlnbError):
    """``Model.package`` broke on an unexpected error; the original is its ``__cause__``."""


class PortInUse(MlnbError, OSError):
    """The requested host port is taken by another process."""


class DeploymentFailed(MlnbError):
    """A service did not become healthy; ``logs`` holds what it printed.

    Args:
        message: what went wrong and what to do.
        logs: the build, container or process log, including the ``init()`` traceback.
    """

    def __init__(self, message: str, *, logs: str = "") -> None:
        super().__init__(message)
        self.logs = logs


class DeploymentTimeout(MlnbError, TimeoutError):
    """A service was still not ready when the wait ran out."""


class PushFailed(MlnbError):
    """An image could not be pushed to a registry (unreachable, refused, missing image)."""


class NotInSwarm(MlnbError):
    """The Swarm backend was asked for, but the engine is not a Swarm manager."""


class ScoringError(MlnbError):
    """A scoring request answered with a status other than 200.

    Args:
        message: what went wrong.
        status_code: the HTTP status the service answered with.
        body: the response body, as text.
    """

    def __init__(self, message: str, *, status_code: int, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class ProfileFailed(MlnbError):
    """A profiling run could not produce a result."""


class CollectedDataNotFound(MlnbError, FileNotFoundError):
    """No collected-data folder where one was asked for."""
