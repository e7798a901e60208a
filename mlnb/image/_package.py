"""``Model.package``: a service as a Docker image, or as a Dockerfile with its build context.

The image is built from the same context the Docker backend deploys (one code path), so
a package behaves exactly like a deployed service: ``docker run -p 6789:5001 IMAGE`` and
POST to ``http://localhost:6789/score``. Creation runs in a background thread;
``wait_for_creation(show_output=True)`` streams its log.
"""

from __future__ import annotations

import hashlib
import queue
import shutil
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mlnb import _html
from mlnb.config import InferenceConfig
from mlnb.errors import InvalidConfiguration, MlnbError, PackagingFailed
from mlnb.image._build import build_image
from mlnb.image._context import assemble_context
from mlnb.image._engine import connect
from mlnb.image._prune import PACKAGE_LABEL, WORKSPACE_LABEL
from mlnb.image._push import PushedImage, push_image
from mlnb.registry import Model, Workspace, check_workspace

_DONE = object()


class ModelPackage:
    """A packaging job and its result; made by :meth:`mlnb.Model.package`.

    Attributes:
        location: the local image tag once created (None for ``generate_dockerfile=True``).
        state: ``"Running"``, ``"Succeeded"`` or ``"Failed"``.
        error: the MlnbError that failed the package (``PackagingFailed`` for a bug, whose
            ``__cause__`` is the original), else None.
    """

    def __init__(
        self,
        workspace: Workspace,
        models: Sequence[Model],
        inference_config: InferenceConfig,
        *,
        generate_dockerfile: bool = False,
        image_name: str | None = None,
    ) -> None:
        if not models:
            raise InvalidConfiguration("models must be a non-empty list, e.g. [model]")
        if not isinstance(inference_config, InferenceConfig):
            raise InvalidConfiguration("inference_config must be an mlnb.InferenceConfig(entry_script=..., ...)")
        self.workspace = check_workspace(workspace)
        self.models = list(models)
        self.inference_config = inference_config
        self.generate_dockerfile = generate_dockerfile
        key = hashlib.sha256(
            "\n".join([*(m.id for m in self.models), inference_config.entry_script, str(inference_config.source_directory)]).encode()
        ).hexdigest()[:12]
        self.image_name = image_name or f"mlnb-package/{self.models[0].name}:{key}"
        self.location: str | None = None
        self.state = "Running"
        self.error: MlnbError | None = None
        self._context_dir = workspace.cache_dir / "packages" / key
        self._log: list[str] = []
        self._lines: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._create, name="mlnb-package", daemon=True)
        self._thread.start()

    def _emit(self, line: str) -> None:
        self._log.append(line)
        self._lines.put(line)

    def _create(self) -> None:
        try:
            context = assemble_context(
                self.models,
                self.inference_config,
                target_dir=self._context_dir,
                wheelhouse_cache=self.workspace.cache_dir / "wheelhouse",
                log=self._emit,
            )
            if not self.generate_dockerfile:
                labels = {PACKAGE_LABEL: self.image_name, WORKSPACE_LABEL: str(self.workspace.path)}
                build_image(connect(), context, self.image_name, labels=labels, log=self._emit)
                self.location = self.image_name
            self.state = "Succeeded"
        except MlnbError as error:
            self._fail(error, f"[mlnb] error: {error}")
        except Exception as error:  # a bug: the package fails with its traceback, never hangs in Running
            failure = PackagingFailed(
                f"packaging failed unexpectedly ({type(error).__name__}: {error}); the log holds the traceback to report"
            )
            failure.__cause__ = error
            self._fail(failure, "[mlnb] error: " + "".join(traceback.format_exception(error)).rstrip())
        finally:
            self._lines.put(_DONE)

    def _fail(self, error: MlnbError, line: str) -> None:
        self.error = error
        self.state = "Failed"
        self._emit(line)

    def wait_for_creation(self, show_output: bool = False, *, out: TextIO | None = None) -> None:
        """Wait until the image (or the Dockerfile and context) is ready.

        Args:
            show_output: print the packaging and build log as it comes.
            out: where to print (default: standard output).

        Raises:
            MlnbError: the error that stopped the packaging (a dependency that cannot be
                resolved, no Docker engine, a failed build step); for anything else,
                :class:`~mlnb.errors.PackagingFailed` with the original as ``__cause__``.
        """
        stream = out or sys.stdout
        while (line := self._lines.get()) is not _DONE:
            if show_output:
                stream.write(f"{line}\n")
                stream.flush()
        self._lines.put(_DONE)  # a second wait returns at once
        if self.error is not None:
            raise self.error

    def push(self, registry: str, *, tag: str | None = None) -> PushedImage:
        """Push the package's image to a Docker registry (credentials from the Docker config).

        Args:
            registry: ``host[:port][/namespace]``, e.g. ``"127.0.0.1:5000"``.
            tag: the tag in the registry; ``None`` keeps the package's own.

        Returns:
            The pushed reference and its digest; progress goes to the package log.

        Raises:
            InvalidConfiguration: for a Dockerfile-only package, or a malformed registry or tag.
            PushFailed: when the registry cannot be reached or refuses the push.
        """
        self.wait_for_creation()
        if self.location is None:
            raise InvalidConfiguration("this package is a Dockerfile and its context; package with generate_dockerfile=False to push an image")
        return push_image(self.location, registry, tag=tag, log=self._emit)

    def get_logs(self) -> str:
        """The packaging log so far."""
        return "".join(f"{line}\n" for line in self._log)

    def save(self, output_directory: str | Path) -> Path:
        """Write the Dockerfile and the complete build context to ``output_directory``.

        ``docker build DIR`` then builds an image that needs no mlnb on that machine.

        Raises:
            InvalidConfiguration: when ``output_directory`` exists and is not empty.
        """
        self.wait_for_creation()
        target = Path(output_directory)
        if target.exists() and any(target.iterdir()):
            raise InvalidConfiguration(f"{target} is not empty; save into a new or empty folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.rmdir()
        shutil.copytree(self._context_dir, target)
        return target

    def __repr__(self) -> str:
        return f"ModelPackage(state={self.state!r}, location={self.location!r}, models={[m.id for m in self.models]!r})"

    def _repr_html_(self) -> str:
        where = self.location or ("Dockerfile and context: call .save(DIR)" if self.generate_dockerfile else "—")
        rows: list[tuple[str, object]] = [("models", ", ".join(m.id for m in self.models)), ("state", _html.state(self.state)), ("location", where)]
        if self.error is not None:
            rows.append(("error", str(self.error)))
        return _html.card("ModelPackage", rows)
