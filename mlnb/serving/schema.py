"""What an ``@input_schema``-typed ``run()`` expects, read once from inference-schema.

inference-schema's decorator wrapper re-inspects the function on every call. The server
instead reads the parameter types out of the decorator chain once, converts a request's
JSON fields with the same conversions (``_deserialize_input_argument``, plus an equivalent
fast path for plain numeric numpy arrays), and calls the undecorated function directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["InputError", "RunSchema", "read_run_schema"]


class InputError(ValueError):
    """A request field that the input schema rejects.

    Args:
        field: The name of the offending field (``None`` for the body as a whole).
        reason: Why it was rejected.
    """

    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason
        where = f"field {field!r}" if field is not None else "request body"
        super().__init__(f"Invalid {where}: {reason}")


@dataclass(frozen=True)
class _Param:
    name: str
    convert: Callable[[Any], Any] | None
    optional: bool


@dataclass(frozen=True)
class RunSchema:
    """The input and output schema of a schema-typed ``run()``.

    Attributes:
        target: The undecorated ``run`` the server calls with converted arguments.
        input_swagger: inference-schema's swagger model of the input object.
        output_swagger: inference-schema's swagger model of the output, if declared.
        versions: The swagger versions the parameter types support.
        required: The fields a request must carry (``run`` arguments without defaults).
        accepts_extra: Whether ``run`` takes ``**kwargs``, so unknown fields are passed on.
    """

    target: Callable[..., Any]
    input_swagger: dict[str, Any]
    output_swagger: dict[str, Any] | None
    versions: list[str]
    required: tuple[str, ...]
    accepts_extra: bool
    _params: dict[str, _Param] = field(repr=False)
    _accepted: frozenset[str] = field(repr=False)

    def convert(self, payload: Any) -> dict[str, Any]:
        """Turn a parsed JSON body into keyword arguments for :attr:`target`.

        Raises:
            InputError: The body is not an object, a field is unknown, missing or does not
                convert to its declared type.
        """
        if not isinstance(payload, dict):
            names = ", ".join(sorted(self._params)) or "none"
            raise InputError(None, f"expected a JSON object with the fields of run() ({names}), "
                                   f"got {type(payload).__name__}")
        kwargs: dict[str, Any] = {}
        for name, value in payload.items():
            param = self._params.get(name)
            if param is None:
                if name not in self._accepted and not self.accepts_extra:
                    accepted = ", ".join(sorted(self._accepted)) or "none"
                    raise InputError(name, f"unexpected field; run() accepts: {accepted}")
                kwargs[name] = value
                continue
            if param.convert is None or (param.optional and not value):
                kwargs[name] = value
                continue
            try:
                kwargs[name] = param.convert(value)
            except Exception as exc:
                raise InputError(name, str(exc) or type(exc).__name__) from exc
        for name in self.required:
            if name not in kwargs:
                raise InputError(name, "missing required field")
        return kwargs


def read_run_schema(run: Callable[..., Any]) -> RunSchema | None:
    """Read the schema of an inference-schema-decorated ``run``; ``None`` when undecorated."""
    try:
        import wrapt
        from inference_schema import schema_util
    except ImportError:
        return None
    if not isinstance(run, wrapt.FunctionWrapper) or not schema_util.is_schema_decorated(run):
        return None
    params: dict[str, _Param] = {}
    target: Any = run
    while isinstance(target, wrapt.FunctionWrapper):
        closure = _closure_vars(target._self_wrapper)
        if "param_type" in closure and "param_name" in closure:
            name = closure["param_name"]
            convert = _converter(closure["param_type"], name) if closure.get("convert_to_provided_type", True) else None
            params[name] = _Param(name=name, convert=convert, optional=bool(closure.get("optional", False)))
        target = target.__wrapped__
    signature = inspect.signature(target)
    accepted = frozenset(
        name for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "request_headers"
    )
    required = tuple(
        name for name in accepted
        if signature.parameters[name].default is inspect.Parameter.empty
        and not (name in params and params[name].optional)
    )
    var_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    output = schema_util.get_output_schema(run)
    return RunSchema(
        target=target,
        input_swagger=schema_util.get_input_schema(run),
        output_swagger=output if output != {"type": "object"} else None,
        versions=list(schema_util.get_supported_versions(run)),
        required=required,
        accepts_extra=var_kwargs,
        _params=params,
        _accepted=accepted,
    )


def _closure_vars(func: Any) -> Mapping[str, Any]:
    code = getattr(func, "__code__", None)
    cells = getattr(func, "__closure__", None) or ()
    if code is None:
        return {}
    return {name: cell.cell_contents for name, cell in zip(code.co_freevars, cells, strict=True)}


def _converter(param_type: Any, name: str) -> Callable[[Any], Any]:
    fast = _numpy_fast_path(param_type)
    if fast is not None:
        return fast
    from inference_schema.schema_decorators import _deserialize_input_argument

    def convert(value: Any) -> Any:
        return _deserialize_input_argument(value, param_type, name)

    return convert


def _numpy_fast_path(param_type: Any) -> Callable[[Any], Any] | None:
    """Convert plain numeric arrays without inference-schema's per-row Python loop.

    For a dtype without fields, datetimes or timedeltas, that loop returns every row
    unchanged, so a single ``np.array(value, dtype)`` plus the same shape checks (and the
    same messages) is equivalent.
    """
    try:
        import numpy as np
        from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
    except ImportError:
        return None
    if not isinstance(param_type, NumpyParameterType):
        return None
    sample = param_type.sample_input
    dtype = sample.dtype
    if dtype.names is not None or dtype.kind not in "biuf" or not param_type.enforce_column_type:
        return None
    expected = sample.shape if param_type.enforce_shape else None

    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return value
        if not isinstance(value, list):
            raise ValueError("Invalid input format: expected an array of items.")
        array = np.array(value, dtype=dtype)
        if expected is not None:
            if array.ndim != len(expected):
                raise ValueError(
                    f"Invalid input array: an array with {len(expected)} dimensions is expected; "
                    f"input has {array.ndim} [shape {array.shape}]")
            for dim in range(1, len(expected)):
                if array.shape[dim] != expected[dim]:
                    raise ValueError(
                        f"Invalid input array: array has size {array.shape[dim]} on dimension #{dim}, "
                        f"while expected value is {expected[dim]}")
        return array

    return convert
