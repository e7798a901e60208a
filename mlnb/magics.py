"""IPython magics: the deployment loop from notebook cells (``%load_ext mlnb``).

Each magic parses its line with ``magic_arguments`` (so ``%deploy?`` shows the usage),
calls one engine function and returns its result object, which displays itself. A user
mistake (an unknown service or model, a missing file, a bad option) raises a plain
``UsageError`` with one line; anything else keeps its traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Enum, Int, Unicode

from mlnb._facade import Model
from mlnb.client import ScoreResult, score
from mlnb.config import InferenceConfig, LocalWebservice
from mlnb.deploy import ScriptCheck, ServiceList, Webservice, check_entry_script
from mlnb.errors import MlnbError
from mlnb.profiling import ModelProfile, parse_concurrency, profile_service
from mlnb.registry import ModelList, Workspace, parse_model_id

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(method: F) -> F:
    """Turn the engine's user-facing errors into a one-line UsageError; bugs pass through."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except MlnbError as error:
            lines = str(error).splitlines() or [type(error).__name__]
            detail = " (the traceback is in the output above)" if len(lines) > 1 else ""
            raise UsageError(lines[0] + detail) from None

    return wrapper  # type: ignore[return-value]


def _key_values(pairs: list[str] | None) -> dict[str, str]:
    result = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {pair!r}")
        result[key] = value
    return result


@magics_class
class MlnbMagics(Magics):
    """The mlnb magics. Options are traitlets: ``%config MlnbMagics.backend = "process"``."""

    workspace = Unicode(
        "", help="Project folder whose .mlnb workspace the magics use; empty: found from the current folder up."
    ).tag(config=True)
    backend = Enum(
        ["auto", "docker", "process"], default_value="auto", help="Backend for %deploy when --backend is not given."
    ).tag(config=True)
    port = Int(0, help="Host port for %deploy when --port is not given; 0 picks a free one.").tag(config=True)
    log_lines = Int(200, help="Lines %logs shows when --tail is not given.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._announced: Path | None = None
        self._dashboard: Any = None

    # -- helpers -----------------------------------------------------------------------

    def _workspace(self) -> Workspace:
        if self.workspace:
            return Workspace.create(self.workspace)
        try:
            return Workspace.from_config()
        except MlnbError:
            created = Workspace.create(".")
            if self._announced != created.path:
                print(f"mlnb: created workspace {created.path}")
                self._announced = created.path
            return created

    def _model(self, reference: str) -> Model:
        try:
            name, version = parse_model_id(reference)
        except MlnbError as error:
            raise UsageError(str(error)) from None
        return Model(self._workspace(), name, version=version)

    @property
    def _user_namespace(self) -> dict[str, Any]:
        """The notebook's variables (empty when the magics run without a shell)."""
        return self.shell.user_ns if self.shell is not None else {}

    def _payload(self, text: str) -> Any:
        """A JSON literal, or the name of a variable in the user's namespace."""
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] == "'":
            text = text[1:-1]  # magic_arguments keeps the quotes around a quoted argument
        if text.isidentifier() and text in self._user_namespace:
            return self._user_namespace[text]
        try:
            json.loads(text)
        except ValueError:
            raise UsageError(f"payload is neither JSON nor a variable name: {text[:60]!r}") from None
        return text

    # -- magics ------------------------------------------------------------------------

    @magic_arguments()
    @argument("filename", nargs="?", default="score.py", help="file to write (default score.py)")
    @argument("--model", help="NAME[:VERSION] of a registered model to test against")
    @argument("--test", help="JSON payload (or a variable name) to send once, with --model")
    @cell_magic
    @_user_errors
    def score_script(self, line: str, cell: str) -> ScriptCheck:
        """Write the cell to an entry script and check it (like %%writefile, plus checks).

        It checks that the script parses and defines init() and run(), and reports the
        input mode and, for @input_schema scripts, the schema. With --model and --test it
        runs init() and run() once in a fresh process against that model.
        """
        args = parse_argstring(self.score_script, line)
        if (args.model is None) != (args.test is None):
            raise UsageError("--model and --test go together: --model NAME[:VERSION] --test PAYLOAD")
        path = Path(args.filename).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cell)
        print(f"Wrote {path}")
        if args.model is None:
            return check_entry_script(path)
        payload = self._payload(args.test)
        body = payload if isinstance(payload, str) else json.dumps(payload)
        return check_entry_script(path, model=self._model(args.model), payload=body)

    @magic_arguments()
    @argument("name", help="model name")
    @argument("path", help="file or folder to register")
    @argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")
    @argument("--description", help="a sentence about the model")
    @argument("--framework", help="ScikitLearn, Onnx, Custom, …")
    @line_magic
    @_user_errors
    def register_model(self, line: str) -> Model:
        """Register a file or folder as the next version of a model."""
        args = parse_argstring(self.register_model, line)
        return Model.register(
            self._workspace(),
            model_path=args.path,
            model_name=args.name,
            tags=_key_values(args.tag),
            description=args.description,
            model_framework=args.framework,
        )

    @magic_arguments()
    @argument("name", help="service name (3-32 lowercase letters, digits, '-')")
    @argument("--model", action="append", required=True, metavar="NAME[:VERSION]", help="a model (repeatable)")
    @argument("--entry-script", help="the entry script; omit for no-code scikit-learn/ONNX models")
    @argument("--source-dir", help="folder shipped with the service (default: the script's folder)")
    @argument("--conda-file", help="conda YAML with the dependencies (default: inferred)")
    @argument("--port", type=int, help="host port (default: a free one)")
    @argument("--backend", choices=["auto", "docker", "process"], help="where to run it")
    @argument("--cpu", type=float, help="CPU cores limit")
    @argument("--memory", type=float, metavar="GB", help="memory limit in GB")
    @argument("--no-wait", action="store_true", help="return at once instead of waiting for Healthy")
    @line_magic
    @_user_errors
    def deploy(self, line: str) -> Webservice:
        """Deploy models as a local web service, streaming the build and service logs.

        A service of the same name is replaced. Interrupting the kernel removes the
        half-made service.
        """
        args = parse_argstring(self.deploy, line)
        workspace = self._workspace()
        models = [self._model(reference) for reference in args.model]
        inference_config = None
        if args.entry_script:
            inference_config = InferenceConfig(args.entry_script, source_directory=args.source_dir, conda_file=args.conda_file)
        elif args.source_dir or args.conda_file:
            raise UsageError("--source-dir and --conda-file need --entry-script")
        config = LocalWebservice.deploy_configuration(
            args.port if args.port is not None else (self.port or None),
            cpu_cores=args.cpu,
            memory_gb=args.memory,
            backend=args.backend or self.backend,
        )
        service = Model.deploy(workspace, args.name, models, inference_config, config, overwrite=True)
        if args.no_wait:
            return service
        try:
            service.wait_for_deployment(show_output=True)
        except KeyboardInterrupt:
            service.delete()
            print(f"\nmlnb: interrupted; removed {args.name}")
            raise
        return service

    @line_cell_magic
    @_user_errors
    def score(self, line: str, cell: str | None = None) -> ScoreResult:
        """Send a scoring request: ``%score NAME PAYLOAD`` (JSON or a variable name), or
        ``%%score NAME`` with the JSON payload as the cell body.

        Shows the status, the latency and the response.
        """
        name, _, rest = line.strip().partition(" ")
        if not name:
            raise UsageError("usage: %score NAME PAYLOAD, or %%score NAME with the payload in the cell")
        text = cell if cell is not None else rest
        if not text.strip():
            raise UsageError(f"no payload: %score {name} '{{\"data\": ...}}' or a variable name")
        return score(Webservice(self._workspace(), name), self._payload(text))

    @magic_arguments()
    @argument("name", help="service name")
    @argument("--data", metavar="VAR_OR_FILE", help="sample requests: a variable (list or DataFrame) or a .jsonl/.csv file; default: the swagger example")
    @argument("--duration", type=float, metavar="SECONDS", help="budget for warm-up and load (default 30)")
    @argument("--concurrency", metavar="1,2,4", help="comma-separated concurrency levels")
    @line_magic
    @_user_errors
    def profile(self, line: str) -> ModelProfile:
        """Profile a deployed service: CPU, memory and latency under rising load, and a
        recommended ``{'cpu': …, 'memoryInGB': …}``. Interrupting the kernel stops it.
        """
        args = parse_argstring(self.profile, line)
        service = Webservice(self._workspace(), args.name)
        concurrency = parse_concurrency(args.concurrency) if args.concurrency else None
        if args.data is None:
            data: Any = [_swagger_example(service)]
        elif args.data.isidentifier() and args.data in self._user_namespace:
            data = self._user_namespace[args.data]
        elif Path(args.data).is_file():
            data = args.data
        else:
            raise UsageError(f"--data {args.data!r} is neither a variable nor a file")
        profile = profile_service(service, data, duration_s=args.duration, concurrency=concurrency)
        profile.wait_for_profiling(show_output=True)  # Ctrl-C there stops the load and re-raises
        return profile

    @magic_arguments()
    @argument("name", help="service name")
    @argument("--tail", type=int, metavar="N", help="only the last N lines (default: MlnbMagics.log_lines)")
    @argument("--follow", action="store_true", help="keep printing new lines until interrupted")
    @line_magic
    @_user_errors
    def logs(self, line: str) -> None:
        """Print a service's deployment and server logs."""
        args = parse_argstring(self.logs, line)
        service = Webservice(self._workspace(), args.name)
        if not args.follow:
            print(service.get_logs(tail=args.tail or self.log_lines), end="")
            return
        try:
            for entry in service.stream_logs(follow=True):
                print(entry, flush=True)
        except KeyboardInterrupt:
            pass  # stopping to follow is how --follow ends

    @line_magic
    @_user_errors
    def services(self, line: str) -> ServiceList:
        """The services of the workspace, as a table (``.to_dataframe()`` for a DataFrame)."""
        return Webservice.list(self._workspace())

    @line_magic
    @_user_errors
    def models(self, line: str) -> ModelList:
        """The registered models, as a table."""
        return Model.list(self._workspace())

    @magic_arguments()
    @argument("name", help="service name")
    @line_magic
    @_user_errors
    def undeploy(self, line: str) -> None:
        """Stop and remove a service."""
        args = parse_argstring(self.undeploy, line)
        Webservice(self._workspace(), args.name).delete()
        print(f"deleted {args.name}")

    @line_magic
    @_user_errors
    def mlnb(self, line: str) -> Any:
        """The dashboard: services, models, deploy, logs, test requests and profiling, in tabs."""
        from mlnb.widgets import Dashboard  # ipywidgets loads only when the dashboard is asked for

        # The new dashboard replaces the last one: its refresh and log threads stop with it.
        if self._dashboard is not None:
            self._dashboard.close()
        self._dashboard = Dashboard(self._workspace())
        return self._dashboard


def _swagger_example(service: Webservice) -> Any:
    """The example input of a service's swagger document (its entry script's input sample)."""
    try:
        document = requests.get(service.swagger_uri, timeout=10).json()
        return document["definitions"]["ServiceInput"]["example"]
    except (requests.RequestException, ValueError, KeyError):
        raise UsageError(
            f"service {service.name!r} publishes no example input; pass --data VAR_OR_FILE with sample requests"
        ) from None


def load(shell: Any) -> None:
    """Register the magics with ``shell`` (what ``%load_ext mlnb`` does)."""
    shell.register_magics(MlnbMagics)


def unload(shell: Any) -> None:
    """Remove the magics from ``shell`` (what ``%unload_ext mlnb`` does)."""
    manager = shell.magics_manager
    for kind, names in MlnbMagics.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(MlnbMagics.__name__, None)
