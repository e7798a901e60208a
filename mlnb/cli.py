"""The ``mlnb`` command line: a thin layer over the engine.

Exit status: 0 on success, 2 on a usage error, 1 on any other error; every error is
one line on stderr. Bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlnb.errors import InvalidModelName, MlnbError
from mlnb.models import Model, parse_model_id
from mlnb.workspace import Workspace

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


def _serve(args: argparse.Namespace) -> int:
    from mlnb.serving import main as serve

    return serve(args.serve_args)


def _demo(args: argparse.Namespace) -> int:
    from mlnb.demo import run_demo

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

    serve = commands.add_parser(
        "serve", help="run an entry script in the scoring server (see `mlnb serve --help`)", add_help=False
    )
    serve.add_argument("serve_args", nargs=argparse.REMAINDER)
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser("demo", help="run the whole loop on a bundled model")
    demo.add_argument("--dir", help="project folder for the demo (default: a temporary folder)")
    demo.set_defaults(handler=_demo)
    return parser


def _version() -> str:
    from mlnb import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mlnb`` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except MlnbError as error:
        print(f"mlnb: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mlnb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
