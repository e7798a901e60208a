"""What makes two deployments of a service the same: the fingerprint an identical redeploy
is recognised by.

``Model.deploy(..., overwrite=True)`` onto a Healthy service whose recorded fingerprint
equals the new one changes nothing and leaves the running version serving (no build, no
restart). The fingerprint is a SHA-256 over everything a new version would be made of:

- the models: each one's id and the digest of its files;
- the inference configuration as serialised (entry script, source directory path, runtime,
  conda file path, environment), then the bytes of every source file that ships (the
  files :func:`mlnb.config.iter_source_files` yields) and of the conda file; a no-code
  service's generated script counts by its content, not by its (random) folder;
- the deployment configuration as serialised, with the port the new version would get
  (so ``port=None`` and the service's own port are the same), and the base image it
  would be built on (``$MLNB_BASE_IMAGE`` when the configuration names none);
- the keys (a hash of them; the keys themselves stay in the record only);
- the packages installed where the notebook runs (their ``.dist-info`` folder names,
  which carry the versions): inferred requirements are pinned to them, and a process
  service runs on them;
- the serving runtime's own files (``mlnb/serving``), which every image and process runs.

Anything else (a base image re-tagged under the same name, a file the entry script reads
from outside its source directory) is not seen: ``service.update()`` and
``service.reload()`` always make a new version.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from mlnb.config import DeploymentConfiguration, InferenceConfig, iter_source_files
from mlnb.image import resolve_base_image
from mlnb.registry import Model

__all__ = ["NO_CODE_PREFIX", "fingerprint"]

NO_CODE_PREFIX = "nocode-"
"""The name prefix of the folders mlnb generates no-code entry scripts in."""

_SERVING = Path(__file__).resolve().parents[1] / "serving"


def fingerprint(
    models: Sequence[Model],
    inference_config: InferenceConfig,
    config: DeploymentConfiguration,
    port: int,
    keys: tuple[str, str] | None,
) -> str:
    """The hex SHA-256 naming what a deployment of these parts would run (see the module docstring).

    Args:
        models: the models served.
        inference_config: the entry script, source directory and environment.
        config: the deployment configuration.
        port: the port the version would listen on.
        keys: the service's keys, when auth is on.

    Returns:
        64 hex digits.
    """
    digest = hashlib.sha256()

    def add(label: str, value: object) -> None:
        digest.update(f"{label}\0{json.dumps(value, sort_keys=True, default=str)}\n".encode())

    add("models", [(model.id, model.digest) for model in models])
    ic = inference_config.serialize()
    source = Path(ic["sourceDirectory"])
    if source.name.startswith(NO_CODE_PREFIX):
        ic["sourceDirectory"] = NO_CODE_PREFIX
    add("inference", ic)
    _add_files(digest, source, iter_source_files(source))
    if ic["condaFile"]:
        conda = Path(ic["condaFile"])
        _add_files(digest, conda.parent, [Path(conda.name)])
    add("deployment", {**config.serialize(), "port": port, "resolvedBaseImage": resolve_base_image(config.base_image)})
    add("keys", hashlib.sha256("\n".join(keys).encode()).hexdigest() if keys is not None else None)
    add("installed", sorted(_installed_distributions()))
    _add_files(digest, _SERVING, sorted(p.relative_to(_SERVING) for p in _SERVING.rglob("*.py")))
    return digest.hexdigest()


def _add_files(digest: hashlib._Hash, root: Path, relative: Iterable[Path]) -> None:
    for path in relative:
        digest.update(f"file\0{path.as_posix()}\0".encode())
        try:
            digest.update(hashlib.sha256((root / path).read_bytes()).digest())
        except OSError as error:  # a file that cannot be read cannot be identical either
            digest.update(f"unreadable {error.errno}".encode())


def _installed_distributions() -> set[str]:
    names: set[str] = set()
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        names.update(f"{entry}/{name}" for name in listing if name.endswith((".dist-info", ".egg-info")))
    return names
