"""Reading the Azure CLI's JSON configuration files, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlnb.errors import InvalidConfiguration

__all__ = ["read_json"]


def read_json(path: Path) -> Any:
    """The JSON value in ``path``.

    Raises:
        InvalidConfiguration: when the file cannot be read or is not valid JSON.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidConfiguration(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidConfiguration(f"{str(path)!r} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
