"""``azureml.exceptions``: Azure's exception names, as aliases of mlnb's root error.

In Azure's SDK almost every model-management failure (a model or service not found, a bad
argument, a failed deployment) is a ``WebserviceException``, so Azure code catches that.
Here every name is :class:`mlnb.errors.MlnbError`, the root of every error mlnb raises on
purpose, so ``except WebserviceException:`` keeps catching the same failures; the object
caught is mlnb's precise error (``ServiceNotFound``, ``ModelNotFound`` …).
"""

from __future__ import annotations

from mlnb.errors import MlnbError

__all__ = [
    "AuthenticationException",
    "AzureMLException",
    "ComputeTargetException",
    "ExperimentExecutionException",
    "ModelNotFoundException",
    "ProjectSystemException",
    "RunEnvironmentException",
    "UserErrorException",
    "WebserviceException",
]

AzureMLException = MlnbError
UserErrorException = MlnbError
WebserviceException = MlnbError
ComputeTargetException = MlnbError
AuthenticationException = MlnbError
ExperimentExecutionException = MlnbError
ModelNotFoundException = MlnbError
ProjectSystemException = MlnbError
RunEnvironmentException = MlnbError
