"""Server settings from command-line flags and Azure's environment variable names.

Flags win over the environment. The supervisor hands the settings to its worker
processes as JSON in ``MLNB_SERVING_SETTINGS``; they hold the keys file's path, never a key.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from mlnb.serving._keys import KeysFileError, read_keys_file

__all__ = ["SETTINGS_ENV", "Settings", "SettingsError", "build_parser", "parse_settings"]

SETTINGS_ENV = "MLNB_SERVING_SETTINGS"
#: Azure's default scoring timeout (azmlinfsrv): one hour.
DEFAULT_TIMEOUT_MS = 3_600_000
DEFAULT_MAX_BODY_MB = 100.0
DEFAULT_COLLECT_INTERVAL_S = 5.0
DEFAULT_COLLECT_BUFFER = 10_000


class SettingsError(ValueError):
    """A setting is unusable; the message is one line saying what to do."""


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know.

    Attributes:
        entry_script: The entry script, relative to ``app_root`` unless absolute.
        app_root: The application folder (``AML_APP_ROOT``), put on ``sys.path``.
        model_dir: The deployed models' folder (``AZUREML_MODEL_DIR``), or ``None``.
        host: The address to listen on.
        port: The port to listen on.
        workers: Worker processes, each with its own ``init()``.
        timeout_ms: Longest a ``run()`` call may take before the client gets a 504.
        cors_origins: Origins allowed to call the service from a browser (``*`` for any).
        auth_keys_file: The file of accepted keys for ``Authorization: Bearer <key>`` (one a
            line); ``None`` disables auth.
        max_body_mb: Largest accepted request body, in MiB.
        body_timeout_s: Longest a request body may take to arrive, from the end of the
            headers (408 after that); setting it turns on the event-loop front: bodies are
            read and health checks answered on each worker's event loop, so slow clients
            hold no HTTP thread (docs/serving.md, "Slow clients"). ``None``: off.
        allowed_hosts: Host names accepted besides the loopback ones (``*`` for any); empty
            means any when bound to a non-loopback address, loopback names only otherwise.
        access_log: Write one line per request to stderr.
        service_name: The title of the swagger document and the ``service=`` folder of collected data.
        metrics: Whether ``GET /metrics`` serves Prometheus metrics.
        collect_dir: Where to collect each scoring request's data as Parquet, or ``None``.
        collect_interval_s: Seconds between writes of collected data.
        collect_buffer: Rows a worker buffers between writes; more are dropped and counted.
    """

    entry_script: str
    app_root: str
    model_dir: str | None = None
    host: str = "127.0.0.1"
    port: int = 5001
    workers: int = 1
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    cors_origins: tuple[str, ...] = ()
    auth_keys_file: str | None = None
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    body_timeout_s: float | None = None
    allowed_hosts: tuple[str, ...] = ()
    access_log: bool = False
    service_name: str = "mlnb-service"
    # monitoring (docs/monitoring.md)
    metrics: bool = True
    collect_dir: str | None = None
    collect_interval_s: float = DEFAULT_COLLECT_INTERVAL_S
    collect_buffer: int = DEFAULT_COLLECT_BUFFER

    def to_json(self) -> str:
        """Serialise for the worker processes."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data["cors_origins"] = tuple(data["cors_origins"])
        data["allowed_hosts"] = tuple(data["allowed_hosts"])
        return cls(**data)

    def auth_keys(self) -> tuple[str, ...]:
        """The accepted keys, read from :attr:`auth_keys_file` (empty when auth is off).

        Raises:
            KeysFileError: The file is missing, unsafe or empty.
        """
        return read_keys_file(self.auth_keys_file) if self.auth_keys_file else ()


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m mlnb.serving`` / ``mlnb serve`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m mlnb.serving",
        description="Serve an Azure-style entry script (init()/run()) over HTTP.",
        allow_abbrev=False,  # a mistyped or removed flag must not silently match another one
    )
    parser.add_argument("--entry-script", help="the entry script [AZUREML_ENTRY_SCRIPT]")
    parser.add_argument("--model-dir", help="the deployed models' folder [AZUREML_MODEL_DIR, MLNB_MODEL_DIR]")
    parser.add_argument("--app-root", help="the application folder, default: current directory [AML_APP_ROOT]")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 in containers)")
    parser.add_argument("--port", type=int, help="port to listen on (default 5001)")
    parser.add_argument("--workers", type=int, help="worker processes (default 1) [WORKER_COUNT]")
    parser.add_argument("--timeout-ms", type=int, help=f"scoring timeout (default {DEFAULT_TIMEOUT_MS}) [SCORING_TIMEOUT_MS]")
    parser.add_argument("--cors-origins", help="comma-separated allowed origins, or * [AML_CORS_ORIGINS]")
    parser.add_argument("--auth-keys-file", metavar="PATH",
                        help="file of accepted bearer keys, one a line (primary, secondary); mode 0600, "
                             "or read-only under /run/secrets/ [MLNB_AUTH_KEYS_FILE]")
    parser.add_argument("--max-body-mb", type=float, help=f"largest request body in MiB (default {DEFAULT_MAX_BODY_MB:g})")
    parser.add_argument("--body-timeout-s", type=float, metavar="SECONDS",
                        help="answer 408 to a request body slower than this, reading bodies and answering "
                             "health checks on each worker's event loop so slow clients cannot hold its HTTP "
                             "threads (costs throughput; default off: put a buffering proxy in front) "
                             "[MLNB_BODY_TIMEOUT_S]")
    parser.add_argument("--allowed-hosts", metavar="HOSTS",
                        help="comma-separated Host names accepted besides loopback ones, or * "
                             "(default: loopback names when bound to loopback, any otherwise) [MLNB_ALLOWED_HOSTS]")
    parser.add_argument("--access-log", action="store_true", default=None,
                        help="one line per request on stderr: method, path, status, ms [MLNB_ACCESS_LOG=1]")
    parser.add_argument("--service-name", help="title of the swagger document [SERVICE_NAME]")
    # monitoring (docs/monitoring.md)
    parser.add_argument("--metrics", action=argparse.BooleanOptionalAction, default=None,
                        help="serve Prometheus metrics on GET /metrics (default on) [MLNB_METRICS]")
    parser.add_argument("--collect-dir", help="collect each scoring request as Parquet under this folder "
                                              "(default off) [MLNB_COLLECT_DIR]")
    parser.add_argument("--collect-interval", type=float, dest="collect_interval_s",
                        help=f"seconds between writes of collected data (default {DEFAULT_COLLECT_INTERVAL_S:g}) "
                             "[MLNB_COLLECT_INTERVAL]")
    parser.add_argument("--collect-buffer", type=int,
                        help=f"rows a worker buffers between writes; more are dropped and counted "
                             f"(default {DEFAULT_COLLECT_BUFFER}) [MLNB_COLLECT_BUFFER]")
    return parser


def parse_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from flags, falling back to the environment.

    Raises:
        SystemExit: A flag is malformed or no entry script is given (argparse's usage error).
        SettingsError: ``--auth-key`` was passed, or the keys file is missing, unsafe or empty.
    """
    env = os.environ if environ is None else environ
    for arg in argv if argv is not None else sys.argv[1:]:
        if arg == "--auth-key" or arg.startswith("--auth-key="):
            raise SettingsError("--auth-key is not accepted (a key on a command line is visible to every user); "
                                "write the keys to a file, one a line, chmod 600, and pass --auth-keys-file PATH")
    parser = build_parser()
    args = parser.parse_args(argv)
    entry_script = args.entry_script or env.get("AZUREML_ENTRY_SCRIPT")
    if not entry_script:
        parser.error("no entry script: pass --entry-script or set AZUREML_ENTRY_SCRIPT")

    def number(flag: float | None, name: str, default: float, kind: type) -> float:
        if flag is not None:
            return flag
        raw = env.get(name)
        if not raw:
            return default
        try:
            value: float = kind(raw)
            return value
        except ValueError:
            parser.error(f"{name}={raw!r} is not a number")
        raise AssertionError  # parser.error exits

    cors = args.cors_origins if args.cors_origins is not None else env.get("AML_CORS_ORIGINS", "")
    hosts = args.allowed_hosts if args.allowed_hosts is not None else env.get("MLNB_ALLOWED_HOSTS", "")
    access_log = args.access_log if args.access_log is not None else env.get("MLNB_ACCESS_LOG", "") == "1"
    collect_dir = args.collect_dir or env.get("MLNB_COLLECT_DIR")  # monitoring
    settings = Settings(
        entry_script=entry_script,
        app_root=os.path.abspath(args.app_root or env.get("AML_APP_ROOT") or os.getcwd()),
        model_dir=args.model_dir or env.get("AZUREML_MODEL_DIR") or env.get("MLNB_MODEL_DIR") or None,
        host=args.host or "127.0.0.1",
        port=int(number(args.port, "", 5001, int)),
        workers=int(number(args.workers, "WORKER_COUNT", 1, int)),
        timeout_ms=int(number(args.timeout_ms, "SCORING_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, int)),
        cors_origins=tuple(origin.strip() for origin in cors.split(",") if origin.strip()),
        auth_keys_file=args.auth_keys_file or env.get("MLNB_AUTH_KEYS_FILE") or None,
        max_body_mb=float(number(args.max_body_mb, "", DEFAULT_MAX_BODY_MB, float)),
        # Unset (or 0 in the environment): no guard.
        body_timeout_s=(args.body_timeout_s if args.body_timeout_s is not None
                        else number(None, "MLNB_BODY_TIMEOUT_S", 0.0, float) or None),
        allowed_hosts=tuple(host.strip().lower() for host in hosts.split(",") if host.strip()),
        access_log=access_log,
        service_name=args.service_name or env.get("SERVICE_NAME") or "mlnb-service",
        # monitoring
        metrics=args.metrics if args.metrics is not None else _flag(parser, env, "MLNB_METRICS", True),
        collect_dir=os.path.abspath(collect_dir) if collect_dir else None,
        collect_interval_s=float(number(args.collect_interval_s, "MLNB_COLLECT_INTERVAL",
                                        DEFAULT_COLLECT_INTERVAL_S, float)),
        collect_buffer=int(number(args.collect_buffer, "MLNB_COLLECT_BUFFER", DEFAULT_COLLECT_BUFFER, int)),
    )
    if settings.body_timeout_s is not None and settings.body_timeout_s <= 0:
        parser.error(f"--body-timeout-s must be above 0 (got {settings.body_timeout_s:g})")
    for name, value, low in (("--port", settings.port, 1), ("--workers", settings.workers, 1),
                             ("--timeout-ms", settings.timeout_ms, 1), ("--max-body-mb", settings.max_body_mb, 0)):
        if value < low:
            parser.error(f"{name} must be at least {low} (got {value})")
    try:
        settings.auth_keys()  # refuse an unsafe or empty keys file before anything starts
    except KeysFileError as exc:
        raise SettingsError(str(exc)) from None
    # monitoring
    if settings.collect_dir:
        if settings.collect_interval_s <= 0 or settings.collect_buffer < 1:
            parser.error("--collect-interval must be above 0 and --collect-buffer at least 1")
        from mlnb.serving.collect import pyarrow_missing

        missing = pyarrow_missing()
        if missing:
            parser.error(f"--collect-dir: {missing}")
    return settings


def _flag(parser: argparse.ArgumentParser, env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    parser.error(f"{name}={raw!r} is not a boolean; use 1 or 0")
    raise AssertionError  # parser.error exits
