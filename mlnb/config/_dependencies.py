"""Infer a service's pip requirements from its source and its models.

Without an environment, a deployment should still just work, with the same library
versions the notebook used: a model pickled with scikit-learn 1.5 must load with 1.5,
the classic failure of hand-made images. So :func:`infer_dependencies`

1. parses the imports of the entry script and of the source directory's modules it
   imports, directly or through each other (its import closure; without an entry script,
   of every Python file in the source directory), without running anything,
2. drops the standard library and the source directory's own modules,
3. reads the modules that the models' pickles (and joblib files) refer to, so a joblib'd
   estimator pulls in scikit-learn even when the script only imports joblib,
4. maps each top-level module to the distribution installed in this environment that
   provides it, pinned to the installed version (``scikit-learn==1.5.2``).

Modules that map to nothing installed become notes, never errors; the result is
meant to be shown in the build log, stored with the service, and easy to replace with
an explicit :class:`~mlnb.config._environment.Environment`::

    inferred = infer_dependencies(Path("src"), artifacts=[Path("model.joblib")])
    print(inferred)                     # requirements and notes, one per line
    env = inferred.to_environment("myenv")
"""

from __future__ import annotations

import ast
import bz2
import gzip
import html
import importlib.metadata
import io
import json
import lzma
import pickletools
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from packaging.utils import canonicalize_name

from mlnb.config._environment import Environment
from mlnb.config._source import iter_source_files

# Provided inside every service by mlnb's serving runtime (its azureml compatibility shim).
_PROVIDED_BY_RUNTIME = frozenset({"azureml", "mlnb"})

# Pickles are read up to this many (decompressed) bytes: globals come first in practice,
# and reading a multi-gigabyte model in full would make every deployment slow.
_PICKLE_SCAN_LIMIT = 256 * 1024 * 1024
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".pck", ".p", ".dat", ".z", ".gz", ".bz2", ".xz", ".lzma")

# Ops that do not push a value onto the unpickling stack; every other op is taken to push one.
_NON_PUSHING_OPS = frozenset({"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "STOP"})
_IDENTIFIER = rb"[A-Za-z_][A-Za-z0-9_.]{0,200}"
# A fallback for the bytes genops cannot walk (joblib writes raw array buffers inline).
_RAW_GLOBALS = re.compile(
    rb"\x8c.(?P<m4>" + _IDENTIFIER + rb")\x94?\x8c.(?P<n4>" + _IDENTIFIER + rb")\x94?\x93"
    rb"|c(?P<m0>" + _IDENTIFIER + rb")\n(?P<n0>" + _IDENTIFIER + rb")\n",
    re.DOTALL,
)


@dataclass(frozen=True)
class InferredDependencies:
    """The pip requirements inferred for a service, and what was noticed on the way.

    Attributes:
        requirements: pinned requirement strings (``"scikit-learn==1.5.2"``), sorted.
        notes: one line each: modules that map to nothing installed, skipped files,
            pickles that could not be read, modules the runtime provides.
        modules: top-level module → distribution name, for every module that mapped.
    """

    requirements: tuple[str, ...]
    notes: tuple[str, ...] = ()
    modules: Mapping[str, str] = field(default_factory=dict)

    def to_environment(self, name: str = "inferred") -> Environment:
        """Return an :class:`~mlnb.config._environment.Environment` with these requirements, to edit or store.

        Args:
            name: the environment's name.

        Returns:
            The environment.
        """
        return Environment.from_pip_packages(name, self.requirements)

    def log_lines(self) -> list[str]:
        """Return the lines to show in a build log: the requirements, then the notes."""
        lines = [f"Inferred {len(self.requirements)} requirement(s) from the source's imports and the models:"]
        lines += [f"  {requirement}" for requirement in self.requirements]
        lines += [f"note: {note}" for note in self.notes]
        return lines

    def __str__(self) -> str:
        return "\n".join(self.log_lines())

    def _repr_html_(self) -> str:
        items = "".join(f"<li><code>{html.escape(r)}</code></li>" for r in self.requirements) or "<li>none</li>"
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        notes_html = f"<p>Notes:</p><ul>{notes}</ul>" if notes else ""
        return f"<p>Inferred requirements:</p><ul>{items}</ul>{notes_html}"


def infer_dependencies(
    source_directory: str | Path, *, artifacts: Iterable[str | Path] = (), entry_script: str | Path | None = None
) -> InferredDependencies:
    """Infer pinned pip requirements from a source directory's imports and model pickles.

    Nothing is imported or unpickled: sources are parsed with :mod:`ast`, pickles are
    walked with :func:`pickletools.genops`.

    Args:
        source_directory: the folder shipped with the service.
        artifacts: model files or folders; pickle and joblib files among them (plain or
            gzip/zlib/bz2/xz-compressed) are read for the modules their objects need.
        entry_script: the entry script, relative to ``source_directory``: only it and the
            modules of the folder it imports (transitively) are read, so a training script
            or a notebook helper beside it adds nothing. None: every Python file is read.

    Returns:
        The requirements, pinned to the versions installed in this environment, and notes.
    """
    root = Path(source_directory)
    notes: list[str] = []
    local = set()
    imported: dict[str, _Use] = {}
    python_files = [relative for relative in iter_source_files(root) if relative.suffix == ".py"]
    for relative in python_files:
        local.add(relative.stem)
        local.update(part for part in relative.parent.parts)
    if entry_script is None:
        for relative in python_files:
            _collect_imports(root / relative, relative.as_posix(), imported, notes)
    else:
        read = _import_closure(root, Path(entry_script), set(python_files), imported, notes)
        others = sorted(relative.as_posix() for relative in set(python_files) - read)
        if others:
            shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
            notes.append(f"not read, as {Path(entry_script).as_posix()} does not import them: {shown}")
    for artifact in artifacts:
        _collect_pickle_globals(Path(artifact), imported, notes)

    distributions = importlib.metadata.packages_distributions()
    pinned: dict[str, str] = {}
    modules: dict[str, str] = {}
    for top in sorted(imported):
        use = imported[top]
        if top in sys.stdlib_module_names or top in local or top == "__main__":
            if top == "__main__" and use.from_pickle:
                notes.append(
                    f"{use.where} refers to objects defined in __main__ ({use.detail}): define them in a module of "
                    "the source directory and pickle again, or the service cannot load the model"
                )
            continue
        if top in _PROVIDED_BY_RUNTIME:
            notes.append(f"{top} (imported by {use.where}) is provided by mlnb's serving runtime")
            continue
        names = _distributions_for(top, use.dotted, distributions)
        if not names:
            if use.optional or use.heuristic:
                continue
            notes.append(
                f"module {top!r} (imported by {use.where}) is not installed here, so it is not in the requirements; "
                "install it in this environment or list it in an Environment"
            )
            continue
        for name in names:
            dist = importlib.metadata.distribution(name)
            project = dist.metadata["Name"]
            pinned[canonicalize_name(project)] = f"{project}=={dist.version}"
            modules[top] = project
            if _installed_from_local_path(dist):
                notes.append(
                    f"{project} is installed from a local folder; the wheelhouse finds {project}=={dist.version} only "
                    "if the package index has it"
                )
    return InferredDependencies(tuple(pinned[key] for key in sorted(pinned)), tuple(notes), modules)


@dataclass
class _Use:
    """Where a top-level module is needed, and how firmly."""

    where: str
    dotted: set[str]
    optional: bool = True
    heuristic: bool = True
    from_pickle: bool = False
    detail: str = ""


def _record(
    imported: dict[str, _Use], dotted: str, where: str, *, optional: bool = False, heuristic: bool = False,
    from_pickle: bool = False, detail: str = "",
) -> None:
    top = dotted.split(".", 1)[0]
    if not top:
        return
    use = imported.setdefault(top, _Use(where=where, dotted=set(), detail=detail, from_pickle=from_pickle))
    use.dotted.add(dotted)
    # One firm use outweighs any number of optional or guessed ones.
    use.optional = use.optional and optional
    use.heuristic = use.heuristic and heuristic


class _ImportVisitor(ast.NodeVisitor):
    """Collects imported module names; imports under ``try: … except ImportError`` are optional."""

    def __init__(self, where: str, imported: dict[str, _Use]) -> None:
        self._where = where
        self._imported = imported
        self._optional_depth = 0

    def _add(self, dotted: str, node: ast.AST) -> None:
        _record(self._imported, dotted, f"{self._where}:{getattr(node, 'lineno', '?')}", optional=self._optional_depth > 0)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            for alias in node.names:
                self._add(f"{node.module}.{alias.name}", node)

    def visit_Try(self, node: ast.Try | ast.TryStar) -> None:
        guarded = any(_catches_import_error(handler.type) for handler in node.handlers)
        self._optional_depth += guarded
        for statement in node.body:
            self.visit(statement)
        self._optional_depth -= guarded
        for child in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(child)

    def visit_TryStar(self, node: ast.TryStar) -> None:
        """``try``/``except*``: the same rules as :meth:`visit_Try`."""
        self.visit_Try(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        if (
            name in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            self._add(node.args[0].value, node)
        self.generic_visit(node)


def _catches_import_error(handler_type: ast.expr | None) -> bool:
    if handler_type is None:
        return True
    names = handler_type.elts if isinstance(handler_type, ast.Tuple) else [handler_type]
    return any(getattr(n, "id", getattr(n, "attr", None)) in ("ImportError", "ModuleNotFoundError", "Exception") for n in names)


def _collect_imports(path: Path, where: str, imported: dict[str, _Use], notes: list[str]) -> ast.Module | None:
    try:
        tree = ast.parse(path.read_bytes(), filename=where)
    except (SyntaxError, ValueError, OSError) as exc:
        notes.append(f"{where} skipped: it does not parse ({type(exc).__name__})")
        return None
    _ImportVisitor(where, imported).visit(tree)
    return tree


def _import_closure(root: Path, entry: Path, files: set[Path], imported: dict[str, _Use], notes: list[str]) -> set[Path]:
    """Read the imports of ``entry`` and of the files among ``files`` it imports, transitively.

    A module resolves against the source directory and the entry script's folder (both
    are on ``sys.path`` in a service); a package's ``__init__.py`` counts as imported with
    any of its modules. Returns the files read.
    """
    bases = [(), entry.parent.parts] if entry.parent.parts else [()]
    read: set[Path] = set()
    queue = [entry]
    while queue:
        relative = queue.pop()
        if relative in read:
            continue
        read.add(relative)
        tree = _collect_imports(root / relative, relative.as_posix(), imported, notes)
        if tree is None:
            continue
        for parts, relative_import in _imported_paths(tree, relative):
            for base in [()] if relative_import else bases:
                queue.extend(_local_files((*base, *parts), files))
    return read


def _imported_paths(tree: ast.Module, relative: Path) -> Iterator[tuple[tuple[str, ...], bool]]:
    """The module paths a file imports, as folder parts, and whether each import was relative."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield tuple(alias.name.split(".")), False
        elif isinstance(node, ast.ImportFrom):
            if node.level - 1 > len(relative.parent.parts):
                continue  # above the source directory
            package = relative.parent.parts[: len(relative.parent.parts) - (node.level - 1)] if node.level else ()
            module = (*package, *(node.module.split(".") if node.module else ()))
            yield module, bool(node.level)
            for alias in node.names:  # `from pkg import mod` imports a module too
                yield (*module, alias.name), bool(node.level)


def _local_files(parts: tuple[str, ...], files: set[Path]) -> list[Path]:
    """The files of the source directory that importing ``parts`` loads (packages' ``__init__.py`` on the way)."""
    found = [Path(*parts[:depth], "__init__.py") for depth in range(1, len(parts) + 1)]
    if parts:
        found.append(Path(*parts[:-1], parts[-1] + ".py"))
    return [path for path in found if path in files]


def _collect_pickle_globals(artifact: Path, imported: dict[str, _Use], notes: list[str]) -> None:
    paths = [artifact] if artifact.is_file() else sorted(p for p in artifact.rglob("*") if p.is_file())
    for path in paths:
        stream = _open_pickle(path)
        if stream is None:
            continue
        with stream:
            data = stream.read(_PICKLE_SCAN_LIMIT)
        where = path.name
        seen, complete = _pickle_globals(data)
        for module, name in seen:
            _record(imported, module, where, from_pickle=True, detail=f"{module}.{name}")
        if not complete:
            # genops stopped (joblib's inline array buffers, truncation): recover the
            # remaining globals by pattern, and keep guesses from producing warnings.
            for match in _RAW_GLOBALS.finditer(data):
                module = (match["m4"] or match["m0"]).decode("ascii")
                name = (match["n4"] or match["n0"]).decode("ascii")
                _record(imported, module, where, heuristic=True, from_pickle=True, detail=f"{module}.{name}")
            if not seen:
                notes.append(f"{where}: could not read its pickle stream; modules it needs were guessed")


def _open_pickle(path: Path) -> IO[bytes] | None:
    """Open ``path`` as a (decompressed) byte stream if it looks like a pickle, else ``None``."""
    try:
        with path.open("rb") as handle:
            head = handle.read(6)
    except OSError:
        return None
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return path.open("rb")
    if not path.name.lower().endswith(_PICKLE_SUFFIXES):
        return None
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # typeshed: GzipFile is no IO[bytes], yet reads as one
    if head[:3] == b"BZh":
        return bz2.open(path, "rb")
    if head[:6] == b"\xfd7zXZ\x00" or head[:3] == b"\x5d\x00\x00":
        return lzma.open(path, "rb")
    if head[:1] == b"\x78":
        compressed = path.read_bytes()
        try:
            return io.BytesIO(zlib.decompressobj().decompress(compressed, _PICKLE_SCAN_LIMIT))
        except zlib.error:
            return None
    if head[:1] in (b"(", b"c", b"]", b"}"):  # protocol 0/1 pickles have no PROTO header
        return path.open("rb")
    return None


def _pickle_globals(data: bytes) -> tuple[list[tuple[str, str]], bool]:
    """Return the (module, name) globals of a pickle stream, and whether it was walked to the end."""
    found: list[tuple[str, str]] = []
    memo: dict[int, object] = {}
    pushed: list[object] = []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = opcode.name
            if name == "GLOBAL" or name == "INST":
                module, _, attribute = str(arg).partition(" ")
                found.append((module, attribute))
            elif name == "STACK_GLOBAL":
                if len(pushed) >= 2 and isinstance(pushed[-2], str) and isinstance(pushed[-1], str):
                    found.append((pushed[-2], pushed[-1]))
            if name == "MEMOIZE" and pushed:
                memo[len(memo)] = pushed[-1]
            elif name in ("PUT", "BINPUT", "LONG_BINPUT") and pushed:
                memo[int(arg)] = pushed[-1]  # type: ignore[arg-type]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                pushed.append(memo.get(int(arg)))  # type: ignore[arg-type]
            elif name not in _NON_PUSHING_OPS:
                pushed.append(arg if isinstance(arg, str) else None)
            # Only the last two pushed values matter for STACK_GLOBAL.
            del pushed[:-2]
    except Exception:  # genops raises ValueError and others on bytes it cannot read
        return found, False
    return found, True


def _distributions_for(top: str, dotted: set[str], distributions: Mapping[str, list[str]]) -> list[str]:
    """The installed distributions providing ``top``, narrowed by submodule for namespace packages."""
    names = sorted(set(distributions.get(top, ())))
    if len(names) <= 1:
        return names
    # Namespace packages (google, azure …) are shared: keep the distributions whose
    # files hold the imported submodule.
    wanted = {d.replace(".", "/") for d in dotted if "." in d}
    narrowed = []
    for name in names:
        files = importlib.metadata.distribution(name).files or []
        paths = {f.as_posix() for f in files}
        if any(p.startswith(w + "/") or p == w + ".py" or p.startswith(w + ".") for w in wanted for p in paths):
            narrowed.append(name)
    return narrowed or names


def _installed_from_local_path(dist: importlib.metadata.Distribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        return "dir_info" in json.loads(text)
    except ValueError:
        return False
