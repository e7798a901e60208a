"""``azureml.contrib``: the entry-script helpers, so a ``score.py`` can be imported in the notebook too."""

from __future__ import annotations

__all__: list[str] = []
