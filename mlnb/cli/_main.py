"""The ``mlnb`` command line's parser and handlers: a thin layer over the engine.

Exit status: 0 on success, 2 on a usage error, 1 on any other error; every error is
one line on stderr. Bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlnb._facade import Model
from mlnb.cli._data import add_data_command
from mlnb.config import DeploymentConfiguration, InferenceConfig, LocalWebservice
from mlnb.deploy import Webservice
from mlnb.errors import InvalidConfiguration, InvalidModelName, MlnbError, NotInSwarm, PortInUse, ProfileFailed
from mlnb.registry import Workspace, parse_model_id

Handler = Callable[[argparse.Namespace], int]


def _workspace(args: argparse.Namespace, *, create: bool = False) -> Workspace:
    if args.workspace is not None:
        return Workspace.create(args.workspace) if create else Workspace.from_config(args.workspace)
    if create:
        try:
            return Workspace.from_config()
        except MlnbError:
            workspace = Workspace.create(".")
            print(f"created workspace {workspace.path}", file=sys.stderr)
            return workspace
    return Workspace.from_config()


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _model_ref(text: str) -> tuple[str, int | None]:
    try:
        return parse_model_id(text)
    except InvalidModelName as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _versioned_model_ref(text: str) -> tuple[str, int]:
    name, version = _model_ref(text)
    if version is None:
        raise argparse.ArgumentTypeError(f"expected NAME:VERSION, got {text!r}")
    return name, version


def _model_register(args: argparse.Namespace) -> int:
    model = Model.register(
        _workspace(args, create=True),
        model_path=args.path,
        model_name=args.name,
        tags=dict(args.tag),
        properties=dict(args.property),
        description=args.description,
        model_framework=args.framework,
        model_framework_version=args.framework_version,
    )
    print(f"registered {model.id} ({model.artifact_name}, {model.size} bytes)")
    return 0


def _model_list(args: argparse.Namespace) -> int:
    models = Model.list(_workspace(args), name=args.name, tags=dict(args.tag) or None, latest=args.latest)
    if args.json:
        print(json.dumps([m.serialize() for m in models], indent=2))
        return 0
    if not models:
        print("no models registered")
        return 0
    frame = models.to_dataframe()
    frame["tags"] = frame["tags"].map(lambda tags: ", ".join(f"{k}={v}" for k, v in tags.items()))
    frame["created"] = frame["created"].map(lambda t: t.strftime("%Y-%m-%d %H:%M"))
    print(frame.fillna("").to_string(index=False))
    return 0


def _model_show(args: argparse.Namespace) -> int:
    name, version = args.model
    print(json.dumps(Model(_workspace(args), name, version=version).serialize(), indent=2))
    return 0


def _model_download(args: argparse.Namespace) -> int:
    name, version = args.model_id
    path = Model(_workspace(args), name, version=version).download(args.target_dir, exist_ok=args.exist_ok)
    print(path)
    return 0


def _model_delete(args: argparse.Namespace) -> int:
    name, version = args.model_id
    Model(_workspace(args), name, version=version).delete()
    print(f"deleted {name}:{version}")
    return 0


def _inference_config(args: argparse.Namespace) -> InferenceConfig | None:
    if args.ic and args.entry_script:
        raise InvalidConfiguration("pass --ic FILE or --entry-script, not both")
    if args.ic:
        return InferenceConfig.from_json(args.ic)
    if args.entry_script:
        return InferenceConfig(args.entry_script, source_directory=args.source_dir, conda_file=args.conda_file)
    return None


def _deployment_config(args: argparse.Namespace) -> DeploymentConfiguration:
    if args.dc:
        return DeploymentConfiguration.from_json(args.dc)
    return LocalWebservice.deploy_configuration(
        args.port, cpu_cores=args.cpu, memory_gb=args.memory, backend=args.backend, auth_enabled=args.auth or None,
        replicas=args.replicas if args.replicas is not None else 1, endpoint_mode=args.endpoint_mode or "vip",
        network=args.network, init_swarm=args.init_swarm,
    )


def _deploy(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    models = [f"{name}:{version}" if version else Model(workspace, name).id for name, version in args.model]
    try:
        service = Model.deploy(
            workspace, args.name, models, _inference_config(args), _deployment_config(args), overwrite=args.overwrite
        )
    except NotInSwarm as refusal:
        raise NotInSwarm(str(refusal).replace("pass init_swarm=True", "add --init-swarm")) from None
    except PortInUse:
        if args.port is None or args.dc:
            raise  # no free port at all, or the --dc file's port: the engine's message says what to do
        print(f"mlnb: error: port {args.port} is in use by another process; omit --port to pick a free one", file=sys.stderr)
        return 1
    if not args.no_wait:
        service.wait_for_deployment(show_output=True, timeout_sec=args.timeout)
    print(f"{service.name}: {service.state} {service.scoring_uri}")
    return 0


def _service_list(args: argparse.Namespace) -> int:
    if args.all:
        return _service_list_everywhere()
    services = Webservice.list(_workspace(args))
    if not services:
        print("no services deployed")
    for service in services:
        print(f"{service.name:<24} {service.state:<13} {service.backend:<8} {service.scoring_uri}")
    return 0


def _service_list_everywhere() -> int:
    services = Webservice.list_everywhere()
    if not services:
        print("no services deployed in any workspace")
    for service in services:
        print(f"{service.name:<24} {service.state:<13} {service.backend:<8} {service.scoring_uri:<32} {service.workspace.path.parent}")
    return 0


def _service_logs(args: argparse.Namespace) -> int:
    service = Webservice(_workspace(args), args.name)
    if args.follow:
        for line in service.stream_logs(follow=True):
            print(line, flush=True)
    else:
        sys.stdout.write(service.get_logs(tail=args.tail))
    return 0


def _payload(text: str) -> str:
    if not text.startswith("@"):
        return text
    path = Path(text[1:])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        reason = error.strerror or type(error).__name__
    except UnicodeDecodeError:
        reason = "not UTF-8 text"
    raise InvalidConfiguration(
        f"cannot read the payload file {str(path)!r}: {reason}; pass a JSON string or @FILE naming a readable file"
    )


def _service_score(args: argparse.Namespace) -> int:
    payload = _payload(args.payload)
    result = Webservice(_workspace(args), args.name).run(payload)
    print(json.dumps(result))
    return 0


def _service_scale(args: argparse.Namespace) -> int:
    service = Webservice(_workspace(args), args.name)
    service.scale(args.replicas)
    print(f"{args.name}: asked Swarm for {args.replicas} replica(s)")
    return 0


def _k8s_export(args: argparse.Namespace) -> int:
    from mlnb.cli._k8s import export_service

    service = Webservice(_workspace(args), args.name)
    recommendation = None
    if (args.cpu is None) != (args.memory is None):
        raise InvalidConfiguration("--cpu and --memory go together (a replica's size); omit both to use the service's")
    if args.cpu is not None:
        recommendation = {"cpu": args.cpu, "memoryInGB": args.memory}
    written = export_service(service, args.out, image=args.image, replicas=args.replicas, max_replicas=args.max_replicas,
                             recommendation=recommendation, autoscale=not args.no_autoscale, namespace=args.namespace,
                             overwrite=args.overwrite)
    print(f"wrote {len(written)} files to {args.out}; apply them with `kubectl apply -k {args.out}`")
    return 0


def _service_delete(args: argparse.Namespace) -> int:
    Webservice(_workspace(args), args.name).delete()
    print(f"deleted {args.name}")
    return 0


def _package(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    inference_config = _inference_config(args)
    if inference_config is None:
        raise InvalidConfiguration("pass --ic FILE or --entry-script FILE")
    models = [Model(workspace, name, version=version) for name, version in args.model]
    package = Model.package(
        workspace, models, inference_config, generate_dockerfile=args.output is not None, image_name=args.image_name
    )
    package.wait_for_creation(show_output=True)
    if args.output is not None:
        print(f"Dockerfile and build context in {package.save(args.output)}")
    else:
        print(f"image {package.location}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from mlnb.image import prune_images

    print(prune_images(None if args.all_workspaces else _workspace(args), keep=args.keep, dry_run=args.dry_run))
    return 0


def _profile(args: argparse.Namespace) -> int:
    from mlnb.profiling import parse_concurrency, profile_service

    service = Webservice(_workspace(args), args.name)
    concurrency = parse_concurrency(args.concurrency) if args.concurrency else None
    profile = profile_service(service, args.data, duration_s=args.duration, concurrency=concurrency)
    try:
        profile.wait_for_profiling(show_output=True)  # Ctrl-C there stops the load and re-raises
    except ProfileFailed:  # wait_for_profiling has just printed the reason: say it failed, not the reason again
        print(f"mlnb: error: profiling {args.name} failed (the reason is in the line above)", file=sys.stderr)
        return 1
    print(profile.levels.to_string(index=False))
    print(json.dumps(profile.get_results()))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from mlnb.cli._demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mlnb`` command."""
    parser = argparse.ArgumentParser(prog="mlnb", description="Register, deploy, test and profile ML models locally.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-w", "--workspace", metavar="DIR", help="the project folder holding .mlnb (default: found from here up)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    model = commands.add_parser("model", help="register, list, show, download and delete models")
    model_commands = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    register = model_commands.add_parser("register", parents=[common], help="register a file or folder as a model")
    register.add_argument("-n", "--name", required=True, help="model name")
    register.add_argument("-p", "--path", required=True, help="file or folder to register")
    register.add_argument("--tag", action="append", type=_key_value, default=[], metavar="KEY=VALUE")
    register.add_argument("--property", action="append", type=_key_value, default=[], metavar="KEY=VALUE")
    register.add_argument("--description")
    register.add_argument("--framework", help="e.g. ScikitLearn, Onnx, Custom")
    register.add_argument("--framework-version")
    register.set_defaults(handler=_model_register)

    listing = model_commands.add_parser("list", parents=[common], help="list registered models")
    listing.add_argument("-n", "--name", help="only this model name")
    listing.add_argument("--tag", action="append", type=_key_value, default=[], metavar="KEY=VALUE")
    listing.add_argument("--latest", action="store_true", help="only the latest version of each name")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=_model_list)

    show = model_commands.add_parser("show", parents=[common], help="print a model's metadata as JSON")
    show.add_argument("model", type=_model_ref, metavar="NAME[:VERSION]")
    show.set_defaults(handler=_model_show)

    download = model_commands.add_parser("download", parents=[common], help="copy a model's files out")
    download.add_argument("--model-id", "-i", required=True, type=_versioned_model_ref, metavar="NAME:VERSION")
    download.add_argument("--target-dir", "-t", default=".", metavar="DIR")
    download.add_argument("--exist-ok", action="store_true", help="replace existing files")
    download.set_defaults(handler=_model_download)

    delete = model_commands.add_parser("delete", parents=[common], help="delete a model version")
    delete.add_argument("model_id", type=_versioned_model_ref, metavar="NAME:VERSION")
    delete.set_defaults(handler=_model_delete)

    deploy = commands.add_parser("deploy", parents=[common], help="deploy models as a local web service")
    deploy.add_argument("-n", "--name", required=True, help="service name (3-32 lowercase letters, digits, '-')")
    deploy.add_argument("-m", "--model", action="append", required=True, type=_model_ref, metavar="NAME[:VERSION]")
    _add_inference_options(deploy)
    deploy.add_argument("--dc", metavar="FILE", help="deploymentconfig.json (Azure CLI field names)")
    deploy.add_argument("--port", type=int, help="host port on 127.0.0.1 (default: a free one)")
    deploy.add_argument("--backend", default="auto", help="auto, docker, process or swarm (default auto)")
    deploy.add_argument("--cpu", type=float, help="CPU cores limit (a Swarm task's limit)")
    deploy.add_argument("--memory", type=float, metavar="GB", help="memory limit in GB (a Swarm task's limit)")
    deploy.add_argument("--auth", action="store_true", help="require a key on /score (on by default for swarm)")
    deploy.add_argument("--replicas", type=int, metavar="N", help="Swarm tasks to run (--backend swarm)")
    deploy.add_argument("--endpoint-mode", choices=["vip", "dnsrr"], help="Swarm: vip publishes the port, dnsrr nothing")
    deploy.add_argument("--network", help="Swarm: the attachable overlay network (default mlnb)")
    deploy.add_argument("--init-swarm", action="store_true", help="Swarm: initialise a single-node swarm if there is none")
    deploy.add_argument("--overwrite", action="store_true", help="replace a service of the same name")
    deploy.add_argument("--no-wait", action="store_true", help="return without waiting for Healthy")
    deploy.add_argument("--timeout", type=float, default=600, metavar="SECONDS")
    deploy.set_defaults(handler=_deploy)

    service = commands.add_parser("service", help="list, inspect, score and delete services; export their data")
    service_commands = service.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    service_list = service_commands.add_parser("list", parents=[common], help="list services and their state")
    service_list.add_argument("--all", action="store_true", help="every service on this machine, across workspaces")
    service_list.set_defaults(handler=_service_list)
    logs = service_commands.add_parser("logs", parents=[common], help="print a service's logs")
    logs.add_argument("name")
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(handler=_service_logs)
    score = service_commands.add_parser("score", parents=[common], help="send a scoring request")
    score.add_argument("name")
    score.add_argument("payload", help="a JSON string, or @FILE")
    score.set_defaults(handler=_service_score)
    scale = service_commands.add_parser("scale", parents=[common], help="run N copies of a Swarm service")
    scale.add_argument("name")
    scale.add_argument("replicas", type=int, metavar="N")
    scale.set_defaults(handler=_service_scale)
    service_delete = service_commands.add_parser("delete", parents=[common], help="stop and remove a service")
    service_delete.add_argument("name")
    service_delete.set_defaults(handler=_service_delete)
    add_data_command(service_commands, common, _workspace)

    k8s = commands.add_parser("k8s", help="Kubernetes manifests for a deployed service")
    k8s_commands = k8s.add_subparsers(dest="k8s_command", metavar="ACTION", required=True)
    export = k8s_commands.add_parser(
        "export", parents=[common], help="write a service's manifests and kustomize base (kubectl apply -k DIR)"
    )
    export.add_argument("name", help="service name")
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write (new, empty, or written by mlnb)")
    export.add_argument("--image", metavar="REF", help="the image the cluster pulls (default: the one the service runs)")
    export.add_argument("--replicas", type=int, metavar="N", help="replicas, the autoscaler's minimum (default: the service's)")
    export.add_argument("--max-replicas", type=int, metavar="N", help="the autoscaler's maximum (default 10)")
    export.add_argument("--cpu", type=float, metavar="CORES", help="CPU a replica needs (from a profile or a capacity plan)")
    export.add_argument("--memory", type=float, metavar="GB", help="memory a replica needs, with --cpu")
    export.add_argument("--no-autoscale", action="store_true", help="exactly --replicas pods, no HorizontalPodAutoscaler")
    export.add_argument("--namespace", help="the namespace of every object")
    export.add_argument("--overwrite", action="store_true", help="replace a folder mlnb did not write")
    export.set_defaults(handler=_k8s_export)

    package = commands.add_parser("package", parents=[common], help="package models as an image or a Dockerfile")
    package.add_argument("-m", "--model", action="append", required=True, type=_model_ref, metavar="NAME[:VERSION]")
    _add_inference_options(package)
    package.add_argument("--output", metavar="DIR", help="write a Dockerfile and build context here instead of building")
    package.add_argument("--image-name", metavar="TAG", help="the image tag (default: mlnb-package/<model>:<hash>)")
    package.set_defaults(handler=_package)

    prune = commands.add_parser("prune", parents=[common], help="remove old images mlnb built, keeping the newest of each service")
    prune.add_argument("--keep", type=int, metavar="N", help="images to keep per service (default: $MLNB_KEEP_IMAGES, else 2)")
    prune.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    prune.add_argument("--all-workspaces", action="store_true", help="prune the images of every workspace, not only this one")
    prune.set_defaults(handler=_prune)

    profile = commands.add_parser("profile", parents=[common], help="profile a deployed service under load")
    profile.add_argument("name", help="service name")
    profile.add_argument("--data", required=True, metavar="FILE", help="sample requests: a .jsonl or .csv file")
    profile.add_argument("--duration", type=float, metavar="SECONDS", help="budget for warm-up and load (default 30)")
    profile.add_argument("--concurrency", metavar="1,2,4", help="comma-separated concurrency levels")
    profile.set_defaults(handler=_profile)

    # Listed for the help only: main() hands `serve`'s arguments to the server before parsing.
    commands.add_parser(
        "serve", help="run an entry script in the scoring server (see `mlnb serve --help`)", add_help=False
    )

    demo = commands.add_parser("demo", help="run the whole loop on a bundled model")
    demo.add_argument("--dir", help="project folder for the demo (default: a temporary folder)")
    demo.set_defaults(handler=_demo)
    return parser


def _add_inference_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ic", metavar="FILE", help="inferenceconfig.json (Azure CLI field names)")
    parser.add_argument("--entry-script", metavar="FILE", help="the entry script (init() and run())")
    parser.add_argument("--source-dir", metavar="DIR", help="folder shipped with the service")
    parser.add_argument("--conda-file", metavar="FILE", help="conda YAML with the service's dependencies")


def _version() -> str:
    from mlnb._version import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mlnb`` command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["serve"]:
        # The scoring server parses its own flags (python -m mlnb.serving takes the same):
        # argparse.REMAINDER would refuse a first argument that looks like an option.
        from mlnb.serving import main as serve

        return serve(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    handler: Handler = args.handler
    try:
        return handler(args)
    except MlnbError as error:
        print(f"mlnb: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mlnb: interrupted", file=sys.stderr)
        return 130
