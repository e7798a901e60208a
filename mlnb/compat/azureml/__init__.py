"""mlnb's ``azureml`` package tree: the Azure ML SDK v1 names, over mlnb's engine.

The import hook in :mod:`mlnb.compat.azureml._hook` serves this package as ``azureml``
(and ``mlnb.compat.azureml.core`` as ``azureml.core``, and so on) when the real
``azureml-core`` is not installed. Activate it with ``import mlnb.azureml`` or
``%load_ext mlnb.azureml``; docs/porting.md says what each name does locally.
"""

from __future__ import annotations

__all__: list[str] = []
