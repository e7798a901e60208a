"""``azureml.core.Workspace``: an Azure workspace identity over a local mlnb workspace.

Where the local workspace is, for each way Azure code gets a workspace:

- ``Workspace.from_config(path=None)``: Azure's ``config.json`` is looked for as Azure does,
  in the folder (default: the current one) and then its parents, as ``.azureml/config.json``,
  ``config.json`` or ``aml_config/config.json`` (``path`` may also name the file). The
  project folder is the one holding ``config.json``, or holding the ``.azureml``/``aml_config``
  folder it is in; its ``.mlnb`` is the local workspace, created on first use. Both forms
  of the file are read: ``{"subscription_id", "resource_group", "workspace_name"}`` and the
  newer ``{"Id", "Scope": "/subscriptions/…/resourceGroups/…/…/workspaces/<name>"}``.
  A folder on the way up that holds a ``.mlnb`` but no ``config.json`` is used as it is;
  with ``path=None``, ``MLNB_WORKSPACE`` wins over both.
- ``Workspace(subscription_id, resource_group, workspace_name)``, ``Workspace.get(name)``,
  ``Workspace.create(name)``: the ``.mlnb`` found from the current folder (or
  ``MLNB_WORKSPACE``), else a new ``./.mlnb``.

The Azure identity (name, subscription, resource group, location) is kept in
``.mlnb/azureml/workspace.json``; a workspace made by mlnb itself stands for
``subscription_id="local"``, ``resource_group="local"`` and the project folder's name.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from mlnb.compat.azureml._cloud import refuse
from mlnb.compat.azureml._datasets import AbstractDataset, registered_datasets
from mlnb.compat.azureml._environment import Environment
from mlnb.compat.azureml._model import Model
from mlnb.compat.azureml._notes import note, note_unused
from mlnb.compat.azureml._store import Store
from mlnb.compat.azureml._webservice import Webservice
from mlnb.errors import InvalidConfiguration, WorkspaceNotFound
from mlnb.registry import Workspace as LocalWorkspace

__all__ = ["Workspace"]

_CONFIG_NAME = "config.json"
_CONFIG_FOLDERS = (".azureml", "aml_config")
_SCOPE = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)
_LOCAL = "local"
_IDENTITY = ("workspace",)
_ENV_VAR = "MLNB_WORKSPACE"


class Workspace:
    """An Azure ML workspace, backed by a local mlnb workspace (a ``.mlnb`` folder).

    Args:
        subscription_id: the Azure subscription the notebook names.
        resource_group: the Azure resource group.
        workspace_name: the Azure workspace name.
        auth: Azure credentials; not needed locally (a note says it is ignored).

    Raises:
        InvalidConfiguration: when the local workspace found already stands for another
            Azure workspace.
    """

    def __init__(self, subscription_id: str, resource_group: str, workspace_name: str, auth: Any = None,
                 _location: str | None = None, _disable_service_check: bool = False, _workspace_id: str | None = None,
                 sku: str = "basic", tags: dict[str, str] | None = None, _cloud: str = "AzureCloud") -> None:
        _note_auth("Workspace", auth)
        local = _nearest_or_new(Path.cwd())
        identity = {"name": workspace_name, "subscription_id": subscription_id, "resource_group": resource_group}
        self._bind(local, _claim(local, identity, location=_location, sku=sku, tags=tags))

    def _bind(self, local: LocalWorkspace, identity: dict[str, Any]) -> None:
        self._local = local
        self._identity = identity

    @classmethod
    def _of(cls, local: LocalWorkspace) -> Workspace:
        """The Azure-shaped workspace for a local one (its recorded identity, or the local default)."""
        workspace = cls.__new__(cls)
        workspace._bind(local, _claim(local, None))
        return workspace

    # -- finding one ---------------------------------------------------------------------

    @staticmethod
    def from_config(path: str | os.PathLike[str] | None = None, auth: Any = None, _logger: Any = None,
                    _file_name: str | None = None) -> Workspace:
        """Return the workspace that Azure's ``config.json`` (or a ``.mlnb`` folder) points at.

        Args:
            path: a folder to start looking in (default: the current one), or the config file.
            auth: Azure credentials; not needed locally.
            _logger: Azure's logger; unused.
            _file_name: the config file's name (default ``config.json``).

        Returns:
            The workspace; its local ``.mlnb`` is created next to ``config.json`` on first use.

        Raises:
            WorkspaceNotFound: when neither a config file nor a ``.mlnb`` folder is found.
            InvalidConfiguration: when the config file cannot be read.

        Example:
            >>> ws = Workspace.from_config()            # finds .azureml/config.json
            >>> ws.name, ws.mlnb.path                   # ('myworkspace', PosixPath('/project/.mlnb'))
        """
        _note_auth("Workspace.from_config", auth)
        file_name = _file_name or _CONFIG_NAME
        if path is None and os.environ.get(_ENV_VAR):
            return Workspace._of(LocalWorkspace.from_config())
        start = Path(path if path is not None else ".").expanduser().resolve()
        if start.is_file():
            return Workspace._from_file(start)
        if path is not None and not start.exists():
            raise WorkspaceNotFound(f"{start} does not exist; pass the folder holding .azureml/{file_name}, or the file")
        for folder in (start, *start.parents):
            for candidate in (folder / _CONFIG_FOLDERS[0] / file_name, folder / file_name, folder / _CONFIG_FOLDERS[1] / file_name):
                if candidate.is_file():
                    return Workspace._from_file(candidate)
            if (folder / ".mlnb" / "registry.db").is_file():
                return Workspace._of(LocalWorkspace(folder / ".mlnb"))
        raise WorkspaceNotFound(
            f"no .azureml/{file_name} or .mlnb workspace in {start} or its parents; copy Azure's config.json there, "
            f"or create a local workspace with Workspace.create(name='...')"
        )

    @staticmethod
    def _from_file(config: Path) -> Workspace:
        identity = read_config(config)
        project = config.parent.parent if config.parent.name in _CONFIG_FOLDERS else config.parent
        local = LocalWorkspace.create(project)
        workspace = Workspace.__new__(Workspace)
        workspace._bind(local, _claim(local, identity))
        return workspace

    @staticmethod
    def get(name: str, auth: Any = None, subscription_id: str | None = None, resource_group: str | None = None,
            location: str | None = None, cloud: str = "AzureCloud", id: str | None = None) -> Workspace:  # noqa: A002
        """Return the local workspace standing for Azure workspace ``name``.

        The ``.mlnb`` found from the current folder (or ``MLNB_WORKSPACE``) is used, or a new
        ``./.mlnb`` is made; ``cloud`` and ``id`` have no local meaning.

        Raises:
            InvalidConfiguration: when that workspace already stands for another Azure workspace.
        """
        _note_auth("Workspace.get", auth)
        note_unused("Workspace.get", {"id": id, "cloud": None if cloud == "AzureCloud" else cloud},
                    "workspaces are found by folder locally")
        local = _nearest_or_new(Path.cwd())
        identity: dict[str, Any] = {"name": name}
        if subscription_id is not None:
            identity["subscription_id"] = subscription_id
        if resource_group is not None:
            identity["resource_group"] = resource_group
        workspace = Workspace.__new__(Workspace)
        workspace._bind(local, _claim(local, identity, location=location))
        return workspace

    @staticmethod
    def create(name: str, auth: Any = None, subscription_id: str | None = None, resource_group: str | None = None,
               location: str | None = None, create_resource_group: bool = True, sku: str = "basic",
               tags: dict[str, str] | None = None, friendly_name: str | None = None, storage_account: str | None = None,
               key_vault: str | None = None, app_insights: str | None = None, container_registry: str | None = None,
               adb_workspace: str | None = None, primary_user_assigned_identity: str | None = None,
               cmk_keyvault: str | None = None, resource_cmk_uri: str | None = None, hbi_workspace: bool = False,
               default_cpu_compute_target: Any = None, default_gpu_compute_target: Any = None,
               private_endpoint_config: Any = None, private_endpoint_auto_approval: bool = True,
               exist_ok: bool = False, show_output: bool = True,
               user_assigned_identity_for_cmk_encryption: str | None = None,
               system_datastores_auth_mode: str = "accessKey", v1_legacy_mode: bool | None = None) -> Workspace:
        """Create the local workspace ``./.mlnb`` (or the ``MLNB_WORKSPACE`` one) standing for Azure workspace ``name``.

        Azure's resources (storage account, key vault, registry, compute targets, private
        endpoints, keys) have no local meaning: one note names those passed.

        Raises:
            InvalidConfiguration: when a local workspace is already there and ``exist_ok`` is
                false, or it stands for another Azure workspace.
        """
        _note_auth("Workspace.create", auth)
        note_unused("Workspace.create", {
            "storage_account": storage_account, "key_vault": key_vault, "app_insights": app_insights,
            "container_registry": container_registry, "adb_workspace": adb_workspace,
            "primary_user_assigned_identity": primary_user_assigned_identity, "cmk_keyvault": cmk_keyvault,
            "resource_cmk_uri": resource_cmk_uri, "hbi_workspace": hbi_workspace or None,
            "default_cpu_compute_target": default_cpu_compute_target,
            "default_gpu_compute_target": default_gpu_compute_target, "private_endpoint_config": private_endpoint_config,
            "user_assigned_identity_for_cmk_encryption": user_assigned_identity_for_cmk_encryption,
            "v1_legacy_mode": v1_legacy_mode,
        }, "they are Azure resources; the local workspace is a .mlnb folder")
        root = Path(os.environ[_ENV_VAR]).expanduser() if os.environ.get(_ENV_VAR) else Path.cwd()
        folder = root.parent if root.name == ".mlnb" else root
        if (folder / ".mlnb" / "registry.db").is_file() and not exist_ok:
            raise InvalidConfiguration(
                f"a workspace already exists at {folder / '.mlnb'}; pass exist_ok=True to use it, or use Workspace.from_config()"
            )
        local = LocalWorkspace.create(folder)
        identity: dict[str, Any] = {"name": name}
        identity.update({k: v for k, v in (("subscription_id", subscription_id), ("resource_group", resource_group)) if v})
        workspace = Workspace.__new__(Workspace)
        workspace._bind(local, _claim(local, identity, location=location, sku=sku, tags=tags, friendly_name=friendly_name))
        if show_output:
            print(f"Local workspace {name!r} is at {local.path}")
        return workspace

    @staticmethod
    def list(subscription_id: str, auth: Any = None, resource_group: str | None = None) -> dict[str, list[Workspace]]:
        """The local workspace reachable from the current folder, when it stands for that subscription (and group).

        Returns:
            ``{name: [workspace]}``, or ``{}``.
        """
        _note_auth("Workspace.list", auth)
        try:
            workspace = Workspace._of(LocalWorkspace.from_config())
        except WorkspaceNotFound:
            return {}
        if workspace.subscription_id != subscription_id or resource_group not in (None, workspace.resource_group):
            return {}
        return {workspace.name: [workspace]}

    # -- identity ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The Azure workspace name."""
        return str(self._identity["name"])

    @property
    def subscription_id(self) -> str:
        """The Azure subscription id (``"local"`` for a workspace made by mlnb)."""
        return str(self._identity.get("subscription_id") or _LOCAL)

    @property
    def resource_group(self) -> str:
        """The Azure resource group (``"local"`` for a workspace made by mlnb)."""
        return str(self._identity.get("resource_group") or _LOCAL)

    @property
    def location(self) -> str:
        """The Azure region the notebook gave, else ``"local"``."""
        return str(self._identity.get("location") or _LOCAL)

    @property
    def sku(self) -> str:
        """Azure's SKU name, as given (default ``"basic"``)."""
        return str(self._identity.get("sku") or "basic")

    @property
    def tags(self) -> dict[str, str]:
        """The workspace's tags."""
        return dict(self._identity.get("tags") or {})

    @property
    def discovery_url(self) -> None:
        """Always ``None``: there is no discovery service locally."""
        return None

    @property
    def mlnb(self) -> LocalWorkspace:
        """The mlnb workspace behind this one (its ``.mlnb`` folder is ``ws.mlnb.path``)."""
        return self._local

    # -- what it holds -------------------------------------------------------------------

    @property
    def models(self) -> dict[str, Model]:
        """The latest version of every registered model, by name."""
        return {model.name: model for model in Model.list(self, latest=True)}

    @property
    def webservices(self) -> dict[str, Webservice]:
        """Every deployed service, by name."""
        return {service.name: service for service in Webservice.list(self)}

    @property
    def environments(self) -> dict[str, Environment]:
        """The latest version of every registered environment, by name."""
        return Environment.list(self)

    @property
    def datasets(self) -> dict[str, AbstractDataset]:
        """The latest version of every registered dataset, by name."""
        return registered_datasets(self)

    @property
    def compute_targets(self) -> dict[str, Any]:
        """Always empty: there are no Azure compute targets locally."""
        return {}

    @property
    def datastores(self) -> dict[str, Any]:
        """Always empty: local data is read from files (``Dataset.Tabular.from_delimited_files(path)``)."""
        return {}

    @property
    def experiments(self) -> dict[str, Any]:
        """Always empty: runs are not tracked locally."""
        return {}

    def get_default_datastore(self) -> Any:
        """Cloud only: raises, pointing at reading local files instead."""
        refuse("Workspace.get_default_datastore()", "read local files with Dataset.Tabular.from_delimited_files(path) "
               "or Dataset.File.from_files(path)")

    def get_details(self) -> dict[str, Any]:
        """The workspace's details, with Azure's key names where they have a local value."""
        return {
            "id": self._scope(),
            "name": self.name,
            "location": self.location,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "tags": self.tags,
            "sku": self.sku,
            "friendlyName": self._identity.get("friendly_name") or self.name,
            "creationTime": self._identity.get("created"),
            "provisioningState": "Succeeded",
            "localPath": str(self._local.path),
        }

    def write_config(self, path: str | os.PathLike[str] | None = None, file_name: str | None = None) -> None:
        """Write Azure's ``config.json`` (the ``{"Id", "Scope"}`` form) into ``PATH/.azureml/``.

        Args:
            path: the project folder (default: the current one).
            file_name: the file's name (default ``config.json``).
        """
        folder = Path(path if path is not None else ".") / _CONFIG_FOLDERS[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / (file_name or _CONFIG_NAME)).write_text(json.dumps({"Id": None, "Scope": self._scope()}, indent=4))

    def delete(self, delete_dependent_resources: bool = False, no_wait: bool = False) -> None:
        """Refuse: deleting would erase the local registry and every model in it.

        Raises:
            InvalidConfiguration: always; the message says which folder to remove by hand.
        """
        raise InvalidConfiguration(
            f"Workspace.delete() would erase the local registry at {self._local.path} with every model in it; "
            "remove that folder yourself if you mean it"
        )

    def _scope(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}")

    def __repr__(self) -> str:
        return (f"Workspace.create(name={self.name!r}, subscription_id={self.subscription_id!r}, "
                f"resource_group={self.resource_group!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._local == self._local

    def __hash__(self) -> int:
        return hash(self._local)


def read_config(path: Path) -> dict[str, Any]:
    """The Azure identity in a ``config.json`` of either form.

    Raises:
        InvalidConfiguration: when the file is not JSON or names no workspace.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise InvalidConfiguration(f"cannot read Azure config file {path}: {error}") from None
    if not isinstance(data, dict):
        raise InvalidConfiguration(f"Azure config file {path} must hold a JSON object")
    scope = data.get("Scope") or data.get("scope")
    if isinstance(scope, str):
        match = _SCOPE.match(scope.strip())
        if match is None:
            raise InvalidConfiguration(
                f"{path}: Scope {scope!r} is not /subscriptions/<id>/resourceGroups/<group>/providers/"
                "Microsoft.MachineLearningServices/workspaces/<name>"
            )
        return {"name": match["name"], "subscription_id": match["subscription"], "resource_group": match["group"]}
    missing = [key for key in ("subscription_id", "resource_group", "workspace_name") if not isinstance(data.get(key), str)]
    if missing:
        raise InvalidConfiguration(f"{path} has neither a Scope nor {', '.join(missing)}; copy it again from Azure")
    return {"name": data["workspace_name"], "subscription_id": data["subscription_id"], "resource_group": data["resource_group"]}


def _nearest_or_new(start: Path) -> LocalWorkspace:
    try:
        return LocalWorkspace.from_config(None if os.environ.get(_ENV_VAR) else start)
    except WorkspaceNotFound:
        if os.environ.get(_ENV_VAR):
            raise
        return LocalWorkspace.create(start)


def _claim(local: LocalWorkspace, wanted: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """The identity recorded for ``local``, recording ``wanted`` when there is none yet.

    Raises:
        InvalidConfiguration: when ``wanted`` disagrees with the recorded identity.
    """
    store = Store(local)
    with store.locked():
        recorded = store.read(*_IDENTITY)
        if recorded is None:
            if wanted is None:
                return {"name": local.name, "subscription_id": _LOCAL, "resource_group": _LOCAL}
            recorded = {"subscription_id": _LOCAL, "resource_group": _LOCAL, **wanted,
                        **{key: value for key, value in extra.items() if value is not None}}
            store.write(recorded, *_IDENTITY)
            return recorded
    for key, value in (wanted or {}).items():
        if recorded.get(key) != value:
            raise InvalidConfiguration(
                f"the workspace at {local.path} stands for Azure workspace {recorded.get('name')!r} "
                f"({key} {recorded.get(key)!r}, not {value!r}); set {_ENV_VAR} to another folder for {(wanted or {}).get('name')!r}"
            )
    return recorded


def _note_auth(what: str, auth: Any) -> None:
    if auth is not None:
        note(f"{what}: auth is not needed locally; ignored")
