"""IPython magics: the deployment loop from notebook cells (``%load_ext mlnb``).

Each magic parses its line with ``magic_arguments`` (so ``%deploy?`` shows the usage),
calls one engine function and returns its result object, which displays itself. A user
mistake (an unknown service or model, a missing file, a bad option) raises a plain
``UsageError`` with one line; anything else keeps its traceback.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Enum, Int, Unicode

from mlnb._facade import Model
from mlnb.client import ScoreResult, score
from mlnb.config import DeploymentConfiguration, InferenceConfig, LocalWebservice
from mlnb.deploy import LiveProgress, ScriptCheck, ServiceList, Webservice, check_entry_script, in_notebook
from mlnb.errors import (
    DeploymentFailed,
    MlnbError,
    ModelNotFound,
    NotInSwarm,
    PortInUse,
    ProfileFailed,
    ScoringError,
    ServiceNotFound,
)
from mlnb.profiling import ModelProfile, parse_concurrency, prepare_inputs, profile_service
from mlnb.registry import ModelList, Workspace, parse_model_id

F = TypeVar("F", bound=Callable[..., Any])
_FRAME = re.compile(r'^  File "([^"]+)", line \d+')
_MLNB_ROOT = Path(__file__).resolve().parent
_SCORE_LINE = re.compile(r"\s*(?:(?P<before>--no-raise)\s+)?(?P<name>[^-\s]\S*)(?:\s+(?P<after>--no-raise)(?=\s|$))?(?:\s+(?P<rest>.*?))?\s*", re.S)


def _user_errors(method: F) -> F:
    """Turn the engine's user-facing errors into a one-line UsageError; bugs pass through.

    An error that carries a traceback (an entry script that fails to import, or whose
    ``init()`` fails) shows the frames in the user's code first, then the one line.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except MlnbError as error:
            first, _, detail = str(error).partition("\n")
            if detail.strip():
                print(_user_frames(detail), file=sys.stderr)
                first = first.rstrip(":") + " (the traceback is above)"
            raise UsageError(first or type(error).__name__) from None

    return wrapper  # type: ignore[return-value]


def _user_frames(traceback: str) -> str:
    """A traceback's text without the frames in mlnb or Python's import machinery.

    What is left is the header, the frames in the user's code (and the libraries it
    calls) and the exception itself: what a user can act on.
    """
    kept: list[str] = []
    skipping = False
    for line in traceback.splitlines():
        frame = _FRAME.match(line)
        if frame:
            location = frame.group(1)
            skipping = location.startswith("<") or Path(location).resolve().is_relative_to(_MLNB_ROOT)
        elif not line.startswith(" "):
            skipping = False  # the exception line, or a chained traceback's header
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


class _Interrupted(KeyboardInterrupt):
    """A KeyboardInterrupt a magic has cleaned up after: IPython shows its one line, not a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]


def _did_you_mean(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f"; did you mean `{close[0]}`?" if close else ""


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
        ["auto", "docker", "process", "swarm"], default_value="auto", help="Backend for %deploy when --backend is not given."
    ).tag(config=True)
    port = Int(0, help="Host port for %deploy when --port is not given; 0 picks a free one.").tag(config=True)
    log_lines = Int(200, help="Lines %logs shows when --tail is not given.").tag(config=True)
    progress = Enum(
        ["auto", "line", "log"], default_value="auto",
        help="What %deploy shows while it waits: one line updated in place, the whole log, or 'auto' (the line in a Jupyter kernel).",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._announced: Path | None = None
        self._dashboard: Any = None
        # The last payload %score sent to each service that answered 200: %profile's fallback sample.
        self._last_request: dict[str, Any] = {}
        # The entry script text each service serves, after a %%score_script --service reload: what a failed one goes back to.
        self._serving_script: dict[str, str] = {}

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
        workspace = self._workspace()
        try:
            return Model(workspace, name, version=version)
        except ModelNotFound as error:
            names = sorted({model.name for model in Model.list(workspace)})
            if name in names:  # the model exists, the version does not: the engine lists the versions
                raise UsageError(f"{error} (%models lists them)") from None
            raise UsageError(f"no model named {name!r}{_did_you_mean(name, names)} (%models lists them)") from None

    def _service(self, name: str) -> Webservice:
        workspace = self._workspace()
        try:
            return Webservice(workspace, name)
        except ServiceNotFound:
            names = [service.name for service in Webservice.list(workspace)]
            raise UsageError(f"no service named {name!r}{_did_you_mean(name, names)} (%services lists them)") from None

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
    @argument("--service", metavar="SVC", help="a deployed service running this file: reload it with the new script")
    @cell_magic
    @_user_errors
    def score_script(self, line: str, cell: str) -> ScriptCheck:
        """Write the cell to an entry script and check it (like %%writefile, plus checks).

        It checks that the script parses and defines init() and run(), and reports the
        input mode and, for @input_schema scripts, the schema. With --model and --test it
        runs init() and run() once in a fresh process against that model.

        With --service SVC (a service whose entry script is this file) it then reloads SVC
        with the new script and sends it the last request %score sent it. If the new script
        fails to start, or answers that request with an error, the old one keeps serving.
        """
        args = parse_argstring(self.score_script, line)
        if (args.model is None) != (args.test is None):
            raise UsageError("--model and --test go together: --model NAME[:VERSION] --test PAYLOAD")
        path = Path(args.filename).expanduser()
        service = self._service(args.service) if args.service else None
        if service is not None and service.entry_script != path.resolve():
            raise UsageError(f"service {service.name} runs {service.entry_script}, not {path.resolve()}: "
                             f"write the cell to that file, or deploy this one with %deploy")
        previous = self._serving_script.get(service.name) if service is not None else None
        if service is not None and previous is None and path.is_file():
            previous = path.read_text()  # what the service was deployed with, as far as this kernel knows
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cell)
        print(f"Wrote {path}")
        if args.model is None:
            check = check_entry_script(path)
        else:
            payload = self._payload(args.test)
            body = payload if isinstance(payload, str) else json.dumps(payload)
            check = check_entry_script(path, model=self._model(args.model), payload=body)
        if service is not None:
            self._reload_script(service, path, previous, cell)
        return check

    def _reload_script(self, service: Webservice, path: Path, previous: str | None, new: str) -> None:
        """Reload ``service`` with the script just written, then send it the last request.

        The lifecycle switches only to a server whose ``init()`` succeeded, so a script that
        fails to start leaves the old one serving (and raises here). A script that answers
        the last request with an error is switched back to ``previous`` (the script it
        served before); the file keeps the cell's text.
        """
        if previous is not None:
            self._serving_script[service.name] = previous  # still serving if the reload fails
        service.reload()
        self._serving_script[service.name] = new
        if service.name not in self._last_request:
            print(f"reloaded {service.name}; send it a request with %score {service.name} PAYLOAD")
            return
        result = score(service, self._last_request[service.name])
        if result.ok:
            print(f"reloaded {service.name}: the last request answered {result.status} in {result.latency_ms:.0f} ms")
            return
        display(result)
        reason = result.message.strip().partition("\n")[0][:200]
        if previous is None:
            raise UsageError(f"the new script answered {result.status} to the last request ({reason}); see %logs {service.name}")
        path.write_text(previous)
        try:
            service.reload()
            self._serving_script[service.name] = previous
        finally:
            path.write_text(new)
        raise UsageError(f"the new script answered {result.status} to the last request ({reason}), so {service.name} "
                         f"runs the old script again; see %logs {service.name}")

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
    @argument("--backend", help="where to run it: auto, docker, process or swarm (default: MlnbMagics.backend)")
    @argument("--cpu", type=float, help="CPU cores limit (a Swarm task's limit)")
    @argument("--memory", type=float, metavar="GB", help="memory limit in GB (a Swarm task's limit)")
    @argument("--replicas", type=int, metavar="N", help="Swarm tasks to run (--backend swarm)")
    @argument("--endpoint-mode", choices=["vip", "dnsrr"], help="Swarm: vip publishes the port, dnsrr publishes nothing")
    @argument("--network", help="Swarm: the attachable overlay network (default mlnb)")
    @argument("--init-swarm", action="store_true", help="Swarm: initialise a single-node swarm if the engine is in none")
    @argument("--no-wait", action="store_true", help="return at once instead of waiting for Healthy")
    @argument("--collect", action="store_true", help="collect every request as Parquet (service.get_collected_data())")
    @line_magic
    @_user_errors
    def deploy(self, line: str) -> Webservice:
        """Deploy models as a local web service, streaming the build and service logs.

        A service of the same name is replaced. Interrupting the kernel removes the
        half-made service.
        """
        args = parse_argstring(self.deploy, line)
        if args.port is not None and not 1 <= args.port <= 65535:
            raise UsageError(f"--port must be from 1 to 65535 (not {args.port}); omit it to pick a free one")
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
            replicas=args.replicas if args.replicas is not None else 1,
            endpoint_mode=args.endpoint_mode or "vip",
            network=args.network,
            init_swarm=args.init_swarm,
            collect_data=args.collect,
        )
        if not args.no_wait and (self.progress == "line" or self.progress == "auto" and in_notebook()):
            return self._deploy_with_progress(workspace, args.name, models, inference_config, config, args.port)
        service = self._deploy_service(workspace, args.name, models, inference_config, config, args.port)
        if args.no_wait:
            return service
        try:
            service.wait_for_deployment(show_output=True)
        except DeploymentFailed as failure:  # its traceback was in the log just streamed
            raise UsageError(str(failure).partition("\n")[0] + " (the traceback is in the log above)") from None
        except KeyboardInterrupt:
            service.delete()
            raise _Interrupted(f"interrupted: service {args.name} was removed") from None
        return service

    @staticmethod
    def _deploy_service(
        workspace: Workspace, name: str, models: list[Model], inference_config: InferenceConfig | None,
        config: DeploymentConfiguration, port_option: int | None,
    ) -> Webservice:
        """``Model.deploy``, with a taken port and a missing swarm worded in the magic's options."""
        try:
            return Model.deploy(workspace, name, models, inference_config, config, overwrite=True)
        except NotInSwarm as refusal:
            raise UsageError(_swarm_hint(refusal)) from None
        except PortInUse:
            if config.port is None:
                raise  # no free port at all: the engine's message says what to do
            where = "omit --port" if port_option is not None else "set %config MlnbMagics.port = 0"
            raise UsageError(f"port {config.port} is in use by another process; {where} to pick a free one") from None

    def _deploy_with_progress(
        self, workspace: Workspace, name: str, models: list[Model], inference_config: InferenceConfig | None,
        config: DeploymentConfiguration, port_option: int | None,
    ) -> Webservice:
        """Deploy and wait, showing one progress line updated in place (the full log under it at the end)."""

        def read_log() -> str:
            return Webservice(workspace, name).get_logs()

        with LiveProgress(name, read_log) as progress:
            try:
                # A running service of that name is switched here, and keeps serving if the switch stops.
                service = self._deploy_service(workspace, name, models, inference_config, config, port_option)
            except DeploymentFailed as failure:
                raise UsageError(progress.fail(failure) + " (the traceback and the log are above)") from None
            except KeyboardInterrupt:
                raise _Interrupted(f"interrupted: the new version of {name} was stopped; %services shows what runs") from None
            try:
                service.wait_for_deployment(show_output=False)
            except DeploymentFailed as failure:
                raise UsageError(progress.fail(failure) + " (the traceback and the log are above)") from None
            except KeyboardInterrupt:
                service.delete()
                raise _Interrupted(f"interrupted: service {name} was removed") from None
            progress.finish("Healthy", service.scoring_uri)
        return service

    @line_cell_magic
    @_user_errors
    def score(self, line: str, cell: str | None = None) -> ScoreResult:
        """Send a scoring request: ``%score [--no-raise] NAME PAYLOAD`` (JSON or a variable
        name), or ``%%score [--no-raise] NAME`` with the JSON payload as the cell body.

        Shows the status, the latency and the response. An answer other than 200 is shown,
        then fails the cell (so a notebook run stops at a broken service); ``--no-raise``
        only shows it.
        """
        parsed = _SCORE_LINE.fullmatch(line)
        if parsed is None:
            raise UsageError("usage: %score [--no-raise] NAME PAYLOAD, or %%score [--no-raise] NAME with the payload in the cell")
        name, rest = parsed.group("name"), parsed.group("rest") or ""
        no_raise = bool(parsed.group("before") or parsed.group("after"))
        text = cell if cell is not None else rest
        if not text.strip():
            raise UsageError(f"no payload: %score {name} '{{\"data\": ...}}' or a variable name")
        service, payload = self._service(name), self._payload(text)
        try:
            result = score(service, payload)
        except ScoringError:  # no HTTP answer at all
            raise UsageError(f"service {name} is not answering (state {service.state}); see %logs {name}") from None
        if result.ok:
            self._last_request[name] = payload
        elif not no_raise:
            display(result)
            reason = result.message.strip().partition("\n")[0][:200]
            raise UsageError(f"service {name} answered {result.status}: {reason}; see %logs {name}")
        return result

    @magic_arguments()
    @argument("name", help="service name")
    @argument("--data", metavar="VAR_OR_FILE", help="sample requests: a variable (list or DataFrame) or a .jsonl/.csv file; default: the swagger example")
    @argument("--duration", type=float, metavar="SECONDS", help="budget for warm-up and load (default 30)")
    @argument("--concurrency", metavar="1,2,4", help="comma-separated concurrency levels")
    @argument("--background", action="store_true", help="return the running profile at once (wait_for_profiling() later)")
    @line_magic
    @_user_errors
    def profile(self, line: str) -> ModelProfile:
        """Profile a deployed service: CPU, memory and latency under rising load, and a
        recommended ``{'cpu': …, 'memoryInGB': …}``. Interrupting the kernel stops it.

        The first sample is sent once before the load starts; if it fails, nothing is
        profiled. Without --data the samples are the swagger example, else the last
        payload %score sent to the service that answered 200.
        """
        args = parse_argstring(self.profile, line)
        if args.duration is not None and not args.duration > 0:
            raise UsageError(f"--duration must be > 0 (seconds), not {args.duration:g}")
        service = self._service(args.name)
        concurrency = parse_concurrency(args.concurrency) if args.concurrency else None
        if args.data is None:
            data: Any = [self._default_sample(service)]
        elif args.data.isidentifier() and args.data in self._user_namespace:
            data = self._user_namespace[args.data]
        elif Path(args.data).is_file():
            data = args.data
        else:
            raise UsageError(f"--data {args.data!r} is neither a variable nor a file")
        _preflight(service, prepare_inputs(data)[0])
        profile = profile_service(service, data, duration_s=args.duration, concurrency=concurrency)
        if args.background:
            return profile
        try:
            profile.wait_for_profiling(show_output=True)  # Ctrl-C there stops the load and re-raises
        except ProfileFailed:  # wait_for_profiling has just printed the reason
            raise UsageError(f"profiling {args.name} failed (the reason is in the line above)") from None
        except KeyboardInterrupt:
            raise _Interrupted(f"interrupted: profiling {args.name} stopped") from None
        return profile

    def _default_sample(self, service: Webservice) -> Any:
        """The swagger example of the service, else the last payload %score sent it."""
        example = _swagger_example(service)
        if example is not None:
            return example
        if service.name in self._last_request:
            return self._last_request[service.name]
        raise UsageError(
            f"service {service.name} publishes no example input (its run() has no input_schema) and %score has "
            f"sent it nothing yet; pass --data VAR_OR_FILE, or send one request with %score {service.name} PAYLOAD first"
        )

    @magic_arguments()
    @argument("name", help="service name")
    @argument("--tail", type=int, metavar="N", help="only the last N lines (default: MlnbMagics.log_lines)")
    @argument("--follow", action="store_true", help="keep printing new lines until interrupted")
    @line_magic
    @_user_errors
    def logs(self, line: str) -> None:
        """Print a service's deployment and server logs."""
        args = parse_argstring(self.logs, line)
        service = self._service(args.name)
        if not args.follow:
            print(service.get_logs(tail=args.tail or self.log_lines), end="")
            return
        try:
            for entry in service.stream_logs(follow=True):
                print(entry, flush=True)
        except KeyboardInterrupt:
            pass  # stopping to follow is how --follow ends

    @magic_arguments()
    @argument("--all", action="store_true", help="every service on this machine, across workspaces (they outlive kernels)")
    @line_magic
    @_user_errors
    def services(self, line: str) -> ServiceList:
        """The services of the workspace, as a table (``.to_dataframe()`` for a DataFrame)."""
        if parse_argstring(self.services, line).all:
            return Webservice.list_everywhere()
        return Webservice.list(self._workspace())

    @line_magic
    @_user_errors
    def models(self, line: str) -> ModelList:
        """The registered models, as a table."""
        return Model.list(self._workspace())

    @magic_arguments()
    @argument("name", help="service name")
    @argument("replicas", type=int, help="how many copies to run (at least 1)")
    @line_magic
    @_user_errors
    def scale(self, line: str) -> Webservice:
        """Run N copies of a Swarm service: ``%scale NAME N``. Swarm starts or stops tasks in the
        background; ``%services`` shows how many run."""
        args = parse_argstring(self.scale, line)
        service = self._service(args.name)
        service.scale(args.replicas)
        print(f"{args.name}: asked Swarm for {args.replicas} replica(s)")
        return service

    @magic_arguments()
    @argument("name", help="service name")
    @line_magic
    @_user_errors
    def undeploy(self, line: str) -> None:
        """Stop and remove a service."""
        args = parse_argstring(self.undeploy, line)
        self._service(args.name).delete()
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


def _swarm_hint(refusal: NotInSwarm) -> str:
    """The engine's refusal, in the magic's own words (``--init-swarm``, not ``init_swarm=True``)."""
    return str(refusal).replace("pass init_swarm=True", "add --init-swarm")


def _swagger_example(service: Webservice) -> Any:
    """The example input of a service's swagger document (its entry script's input sample), if any."""
    try:
        document = requests.get(service.swagger_uri, timeout=10).json()
        return document["definitions"]["ServiceInput"]["example"]
    except (requests.RequestException, ValueError, KeyError):
        return None


def _preflight(service: Webservice, sample: Any) -> None:
    """Send one sample before the load: a sample the service rejects would fail every request."""
    try:
        answer = score(service, sample)
    except ScoringError:
        raise UsageError(f"service {service.name} is not answering (state {service.state}); see %logs {service.name}") from None
    if not answer.ok:
        reason = answer.message.strip().partition("\n")[0][:200]
        raise UsageError(
            f"the first sample got {answer.status} from {service.name} ({reason}), so nothing was profiled; "
            f"fix --data, or see %logs {service.name}"
        )


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
