"""Load an Azure-style entry script (``init()`` once, ``run()`` per request) and read its contract.

``run``'s decoration picks the input mode: undecorated gets the raw body as ``str``;
``@input_schema`` gets converted arguments; ``@rawhttp`` gets an ``AMLRequest``. A ``run``
that declares a ``request_headers`` parameter also gets the request's headers.

inference-schema keeps a process-global registry keyed by ``module.function`` and refuses
a second ``@output_schema`` for the same key, so loading clears the entries of the module
name it is about to reuse; that makes loading a script again (notebooks, tests, reload) work.
"""

from __future__ import annotations

import enum
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlnb.serving import amlhttp
from mlnb.serving.schema import RunSchema, read_run_schema

__all__ = ["EntryScript", "EntryScriptError", "InputMode", "load_entry_script"]

MODULE_NAME = "entry_module"
# Modules whose ``rawhttp`` flags a script the way Azure's own servers detect it.
_RAWHTTP_FLAG_MODULES = ("azureml.contrib.services.aml_request", "azureml_inference_server_http.api.aml_request")


class EntryScriptError(ImportError):
    """The entry script cannot be loaded or does not define the contract (``run``)."""


class InputMode(enum.Enum):
    """How ``run()`` receives a request."""

    RAW = "raw"
    SCHEMA = "schema"
    RAWHTTP = "rawhttp"


@dataclass(frozen=True)
class EntryScript:
    """A loaded entry script.

    Attributes:
        path: The script file.
        module: The executed module.
        mode: The input mode ``run`` asked for.
        call: What the server calls per request (the undecorated ``run`` for schema mode).
        schema: The input and output schema, for schema mode.
        wants_headers: Whether ``run`` declares a ``request_headers`` parameter.
    """

    path: Path
    module: ModuleType
    mode: InputMode
    call: Callable[..., Any]
    schema: RunSchema | None
    wants_headers: bool

    def init(self) -> None:
        """Call the script's ``init()``, if it defines one."""
        init = getattr(self.module, "init", None)
        if init is not None:
            init()


def load_entry_script(path: str | Path, *, app_root: str | Path | None = None) -> EntryScript:
    """Import an entry script and work out how to call its ``run``.

    Args:
        path: The script; relative paths are taken from ``app_root``.
        app_root: The folder the script's relative imports and files are based on
            (Azure's ``AML_APP_ROOT``); defaults to the current directory.

    Returns:
        The loaded script. ``init()`` has not been called yet.

    Raises:
        EntryScriptError: The file is missing or defines no ``run``. Errors raised by the
            script's own top-level code propagate unchanged.
    """
    root = Path(app_root) if app_root is not None else Path.cwd()
    script = Path(path)
    if not script.is_absolute():
        script = root / script
    script = script.resolve()
    if not script.is_file():
        raise EntryScriptError(f"Entry script {script} does not exist; check --entry-script and AML_APP_ROOT.")
    for folder in (str(root.resolve()), str(script.parent)):
        if folder not in sys.path:
            sys.path.insert(0, folder)

    _forget_previous_load()
    spec = importlib.util.spec_from_file_location(MODULE_NAME, script)
    assert spec is not None and spec.loader is not None  # a .py file always has a spec
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)

    run = getattr(module, "run", None)
    if not callable(run):
        raise EntryScriptError(f"Entry script {script} must define a function run(...).")
    schema = read_run_schema(run)
    if _asked_for_rawhttp(run):
        mode, call = InputMode.RAWHTTP, run
    elif schema is not None:
        mode, call = InputMode.SCHEMA, schema.target
    else:
        mode, call = InputMode.RAW, run
    return EntryScript(
        path=script, module=module, mode=mode, call=call, schema=schema,
        wants_headers=_declares_request_headers(call),
    )


def _forget_previous_load() -> None:
    sys.modules.pop(MODULE_NAME, None)
    amlhttp._rawHttpRequested = False
    for name in _RAWHTTP_FLAG_MODULES:
        flagged = sys.modules.get(name)
        if flagged is not None and hasattr(flagged, "_rawHttpRequested"):
            setattr(flagged, "_rawHttpRequested", False)  # noqa: B010 - a module attribute mypy cannot see
    try:
        from inference_schema import schema_util
    except ImportError:
        return
    prefix = f"{MODULE_NAME}."
    for registry in (schema_util.__functions_schema__, schema_util.__versions__):
        for key in [key for key in registry if key.startswith(prefix)]:
            del registry[key]


def _asked_for_rawhttp(run: Callable[..., Any]) -> bool:
    if amlhttp.is_rawhttp(run):
        return True
    return any(getattr(sys.modules.get(name), "_rawHttpRequested", False) for name in _RAWHTTP_FLAG_MODULES)


def _declares_request_headers(func: Callable[..., Any]) -> bool:
    try:
        return "request_headers" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
