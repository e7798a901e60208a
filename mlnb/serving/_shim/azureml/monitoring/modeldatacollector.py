"""Shim of ``azureml.monitoring.modeldatacollector``: collected data goes to the service's collection.

Azure's collector sends CSV rows to the workspace's blob storage, and only on AKS. This one
has the same constructor and methods. When the server collects data (``--collect-dir``,
``collect_data=True``), each :meth:`~ModelDataCollector.collect` call becomes one row of
the same Parquet files as the requests (so ``service.get_collected_data()`` has it):

- ``collector``: ``<model_name>/<designation>`` (``/<collection_name>`` added when one
  was given), which tells these rows from the server's own (``null`` there);
- ``time``: when ``collect()`` was called; ``request_id``: the correlation id;
- ``inputs`` (``outputs`` for the ``predictions`` designation): JSON
  ``{"data": [...], "feature_names": [...]}``, so ``expand_inputs`` reads it;
- ``method``, ``status``, ``latency_ms``, ``run_ms``: ``null``.

Otherwise it appends one JSON line per call to a file of the serving process:

- folder: ``$MLNB_COLLECT_DIR`` outside a server when set, else ``<app root>/.mlnb-collected/``
  (created owner-only);
- file: ``<host name>-<pid>.jsonl``, one per process, so workers never interleave;
- line: ``{"model_name", "designation", "feature_names", "time", "correlation_id", "data"}``,
  ``time`` in ISO 8601 UTC, ``data`` a list (rows for numpy arrays and DataFrames, whose
  column names become ``feature_names`` when none were given).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from mlnb.serving.collect import process_collector
from mlnb.serving.settings import SETTINGS_ENV, Settings

__all__ = ["COLLECT_DIR_ENV", "ModelDataCollector", "collect_dir"]

COLLECT_DIR_ENV = "MLNB_COLLECT_DIR"
_DESIGNATIONS = ("inputs", "predictions", "labels", "signals", "general")
_NO_REQUEST_ID = "00000000-0000-0000-0000-000000000000"  # what Azure records outside a request


class ModelDataCollector:
    """Collect model inputs and predictions from an entry script, as Azure's class does.

    Args:
        model_name: The model the data is collected for.
        designation: ``"inputs"``, ``"predictions"``, ``"labels"``, ``"signals"``,
            ``"general"``, or ``"default"`` (which is ``"general"``, as on Azure).
        feature_names: Names of the columns collected.
        workspace: Azure's ``subscription/resource group/workspace`` id (recorded in correlations).
        webservice_name: The service's name (recorded in correlations).
        model_version: The model's version (recorded in correlations).
        collection_name: Azure's file name for ``signals`` and ``general``; kept for compatibility.

    Raises:
        ValueError: For a designation Azure does not know (Azure prints a line and collects nothing).
    """

    AML_DC_CORRELATION_HEADER = "$aml_dc_correlation_id"
    AML_DC_SCORING_TIMESTAMP_HEADER = "$aml_dc_scoring_timestamp"
    AML_DC_BOUNDARY_HEADER = "$aml_dc_boundary"
    AML_WORKSPACE_HEADER = "$aml_workspace"
    AML_SERVICE_NAME_HEADER = "$aml_service_name"
    AML_MODEL_NAME_HEADER = "$aml_model_name"
    AML_MODEL_VERSION_HEADER = "$aml_model_version"
    AML_REQUEST_ID_HEADER = "$aml_request_id"

    def __init__(self, model_name: str, designation: str = "default", feature_names: list[str] | None = None,
                 workspace: str = "default/default/default", webservice_name: str = "default",
                 model_version: str = "default", collection_name: str = "default") -> None:
        resolved = "general" if designation == "default" else designation
        if resolved not in _DESIGNATIONS:
            raise ValueError(f"ModelDataCollector designation {designation!r} is not one of 'default', "
                             + ", ".join(repr(name) for name in _DESIGNATIONS))
        self.model_name = model_name
        self.designation = resolved
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.workspace = workspace.lower()
        self.service_name = webservice_name
        self.model_version = model_version
        self.collection_name = collection_name
        self._source = f"{model_name}/{resolved}" + (f"/{collection_name}" if collection_name != "default" else "")

    def collect(self, input_data: Any, user_correlation_id: str = "") -> dict[str, Any] | None:
        """Record ``input_data`` (a list, numpy array or pandas DataFrame).

        Args:
            input_data: The data to record.
            user_correlation_id: A prefix for the generated correlation id.

        Returns:
            For the ``inputs`` designation, Azure's correlation headers and values (pass them
            to another collector's :meth:`add_correlations`); ``None`` otherwise, and for data
            of another type, which is not recorded (with a warning, as on Azure).
        """
        if isinstance(input_data, list):
            rows, columns = input_data, None
        elif hasattr(input_data, "columns") and hasattr(input_data, "to_numpy"):
            rows, columns = input_data.to_numpy().tolist(), [str(name) for name in input_data.columns]
        elif hasattr(input_data, "tolist") and hasattr(input_data, "ndim"):
            rows, columns = input_data.tolist(), None
        else:
            warnings.warn("collect failed: input data must be a list, numpy array or pandas DataFrame",
                          stacklevel=2)
            return None
        correlation = f"{user_correlation_id}-{uuid.uuid4()}" if user_correlation_id else str(uuid.uuid4())
        moment = datetime.now(timezone.utc)
        now = moment.isoformat()
        names = self.feature_names if self.feature_names is not None else columns
        collector = process_collector()
        if collector is not None:
            payload = json.dumps({"data": rows, "feature_names": names}, default=_plain, ensure_ascii=False)
            predictions = self.designation == "predictions"
            collector.add_record((int(moment.timestamp() * 1_000_000), correlation, None, None, None, None,
                                  None if predictions else payload, payload if predictions else None, self._source))
        else:
            _write_record({
                "model_name": self.model_name,
                "designation": self.designation,
                "feature_names": names,
                "time": now,
                "correlation_id": correlation,
                "data": rows,
            })
        if self.designation != "inputs":
            return None
        return {
            self.AML_DC_SCORING_TIMESTAMP_HEADER: now,
            self.AML_REQUEST_ID_HEADER: _NO_REQUEST_ID,
            self.AML_DC_CORRELATION_HEADER: correlation,
            self.AML_DC_BOUNDARY_HEADER: 60 * 24,
            self.AML_WORKSPACE_HEADER: self.workspace,
            self.AML_SERVICE_NAME_HEADER: self.service_name,
            self.AML_MODEL_NAME_HEADER: self.model_name,
            self.AML_MODEL_VERSION_HEADER: self.model_version,
        }

    def add_correlations(self, input_data: Any, correlations: dict[str, Any] | None) -> Any:
        """Append the correlation values from another collector's :meth:`collect` to ``input_data``.

        Args:
            input_data: A list (the values are appended), a numpy array (columns are appended
                to each row) or a pandas DataFrame (a copy with one column per header).
            correlations: What ``collect`` returned; ``None`` leaves ``input_data`` as it is.

        Returns:
            The data with the correlation values, in Azure's header order.
        """
        if correlations is None:
            return input_data
        headers = (self.AML_DC_CORRELATION_HEADER, self.AML_DC_SCORING_TIMESTAMP_HEADER, self.AML_DC_BOUNDARY_HEADER,
                   self.AML_WORKSPACE_HEADER, self.AML_SERVICE_NAME_HEADER, self.AML_MODEL_NAME_HEADER,
                   self.AML_MODEL_VERSION_HEADER, self.AML_REQUEST_ID_HEADER)
        values = [correlations[header] for header in headers]
        if isinstance(input_data, list):
            return input_data + values
        if hasattr(input_data, "columns") and hasattr(input_data, "copy"):
            frame = input_data.copy()
            for header, value in zip(headers, values, strict=False):
                frame[header] = value
            return frame
        if hasattr(input_data, "ndim"):
            import numpy as np  # only reached with a numpy array, so numpy is there

            rows = np.atleast_2d(input_data).astype(object)
            return np.append(rows, np.array([values] * rows.shape[0], dtype=object), axis=1)
        warnings.warn("add_correlations: input data must be a list, numpy array or pandas DataFrame", stacklevel=2)
        return input_data


def collect_dir() -> Path:
    """The folder of the JSON-lines fallback: ``$MLNB_COLLECT_DIR``, else ``<app root>/.mlnb-collected``.

    The app root is the server's (``--app-root`` / ``AML_APP_ROOT``); outside a server, the
    current directory.
    """
    configured = os.environ.get(COLLECT_DIR_ENV)
    if configured:
        return Path(configured)
    settings = os.environ.get(SETTINGS_ENV)
    root = Settings.from_json(settings).app_root if settings else os.getcwd()
    return Path(root) / ".mlnb-collected"


def _write_record(record: dict[str, Any]) -> None:
    """Append ``record`` to this process's file: the one place that decides where data goes."""
    _FILE.write(json.dumps(record, default=_plain, ensure_ascii=False) + "\n")


class _ProcessFile:
    """This process's JSON-lines file, opened on first use (and again in a forked child)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._file: IO[str] | None = None

    def write(self, line: str) -> None:
        with self._lock:
            if self._file is None or self._pid != os.getpid():
                self._file, self._pid = self._open(), os.getpid()
            self._file.write(line)
            self._file.flush()

    @staticmethod
    def _open() -> IO[str]:
        folder = collect_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / f"{socket.gethostname()}-{os.getpid()}.jsonl"
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a", encoding="utf-8")


_FILE = _ProcessFile()


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write: numpy arrays and scalars, dates, anything else as text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
