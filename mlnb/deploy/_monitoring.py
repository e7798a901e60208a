"""A service's monitoring data: where it collects requests, and its ``GET /metrics``."""

from __future__ import annotations

import datetime as dt
import http.client
from pathlib import Path
from typing import TYPE_CHECKING

from mlnb.errors import CollectedDataNotFound, ScoringError
from mlnb.registry import Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["collected_root", "read_service_data", "read_service_metrics"]

#: The collection folder's name in the workspace folder.
COLLECTED_FOLDER = "collected"
_METRICS_TIMEOUT_S = 10.0

Since = dt.datetime | dt.date | str | dt.timedelta


def collected_root(workspace: Workspace) -> Path:
    """The dataset root every collecting service of ``workspace`` writes under
    (``<workspace>/collected/service=<name>/date=<day>/``)."""
    return workspace.path / COLLECTED_FOLDER


def read_service_data(workspace: Workspace, name: str, *, since: Since | None) -> pd.DataFrame:
    """The requests service ``name`` collected (see :func:`mlnb.monitoring.read_collected`).

    Raises:
        CollectedDataNotFound: when the service never collected data.
    """
    from mlnb.monitoring import read_collected

    root = collected_root(workspace)
    if not (root / f"service={name}").is_dir():
        raise CollectedDataNotFound(
            f"service {name!r} has collected no data: deploy it with "
            "LocalWebservice.deploy_configuration(collect_data=True) (or %deploy --collect)"
        )
    return read_collected(root, service=name, since=since)


def read_service_metrics(name: str, port: int, key: str | None) -> pd.DataFrame:
    """Service ``name``'s ``GET /metrics`` on ``127.0.0.1:port``, parsed (see :func:`mlnb.monitoring.parse_metrics`).

    Raises:
        ScoringError: when the service does not answer, or answers with another status than 200.
    """
    from mlnb.monitoring import parse_metrics

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=_METRICS_TIMEOUT_S)
    try:
        connection.request("GET", "/metrics", headers=headers)
        response = connection.getresponse()
        status, text = response.status, response.read().decode("utf-8", "replace")
    except OSError as error:
        raise ScoringError(f"service {name!r} is not answering on 127.0.0.1:{port} ({error}); see service.get_logs()",
                           status_code=0) from None
    finally:
        connection.close()
    if status != 200:
        hint = "; it was deployed with metrics off" if status == 404 else ""
        raise ScoringError(f"service {name!r} answered {status} on /metrics{hint}", status_code=status, body=text)
    return parse_metrics(text)
