"""One-line notes for Azure arguments and settings that mean nothing locally.

A note is a warning of :class:`AzureMLCompatWarning`, attributed to the user's line (the
first frame outside mlnb), so a notebook shows it under the cell that caused it and
``warnings.filterwarnings("ignore", category=AzureMLCompatWarning)`` silences them all.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["AzureMLCompatWarning", "note", "note_unused", "quiet"]

_MLNB_DIR = str(Path(__file__).resolve().parents[2]) + os.sep


class AzureMLCompatWarning(UserWarning):
    """An Azure setting that mlnb accepts but cannot honour locally, or a local substitute it made."""


def note(message: str) -> None:
    """Warn with ``message``, pointing at the first caller outside mlnb."""
    warnings.warn(message, AzureMLCompatWarning, stacklevel=_user_stacklevel())


def note_unused(what: str, given: Mapping[str, Any], why: str) -> None:
    """One note naming every argument in ``given`` that was set (not ``None``) but means nothing locally.

    Args:
        what: the call, e.g. ``"AciWebservice.deploy_configuration"``.
        given: argument name -> value, as passed.
        why: the reason they mean nothing locally.
    """
    unused = [name for name, value in given.items() if value is not None]
    if unused:
        note(f"{what}: {', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no local meaning ({why}); ignored")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence notes (for work whose notes were given once already)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AzureMLCompatWarning)
        yield


def _user_stacklevel() -> int:
    # Level 1 is note()'s caller; walk up to the first frame whose file is not part of mlnb.
    frame = sys._getframe(2)
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_MLNB_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level
