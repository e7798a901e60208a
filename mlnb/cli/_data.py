"""``mlnb service data NAME [--since WHEN] --out FILE``: a service's collected requests to a file."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from mlnb.deploy import Webservice
from mlnb.errors import InvalidConfiguration
from mlnb.registry import Workspace

__all__ = ["add_data_command"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_FORMATS = (".parquet", ".csv")


def add_data_command(service_commands: argparse._SubParsersAction[argparse.ArgumentParser],
                     common: argparse.ArgumentParser,
                     workspace: Callable[[argparse.Namespace], Workspace]) -> None:
    """Add ``data`` to the ``mlnb service`` actions.

    Args:
        service_commands: the ``service`` command's subparsers.
        common: the parent parser with the shared options (``--workspace``).
        workspace: how a handler finds the workspace from its arguments.
    """
    data = service_commands.add_parser("data", parents=[common], help="write the requests a service collected to a file")
    data.add_argument("name")
    data.add_argument("--since", metavar="WHEN", help="only requests since then: an ISO date or time, or 30m, 2h, 7d back from now")
    data.add_argument("--out", required=True, metavar="FILE", help="the file to write: .parquet or .csv")
    data.set_defaults(handler=lambda args: _service_data(args, workspace(args)))


def _service_data(args: argparse.Namespace, workspace: Workspace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in _FORMATS:
        raise InvalidConfiguration(f"--out {args.out!r}: name a .parquet or .csv file")
    frame = Webservice(workspace, args.name).get_collected_data(since=_since(args.since))
    if out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    dropped = frame.attrs.get("dropped", 0)
    print(f"{len(frame)} rows to {out}" + (f" ({dropped} requests were dropped by the service)" if dropped else ""))
    return 0


def _since(text: str | None) -> str | dt.timedelta | None:
    if text is None:
        return None
    match = _DURATION.fullmatch(text.strip())
    if match:
        return dt.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    return text  # an ISO date or time; read_collected says so when it is not one
