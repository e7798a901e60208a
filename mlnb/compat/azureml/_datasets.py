"""Datasets over local files: ``Dataset.Tabular.from_delimited_files(path)``, ``Dataset.File.from_files(path)``.

A dataset is a definition over local files (paths, folders or glob patterns, made absolute
when the dataset is made) plus how to read them; it reads the files each time it is used,
as Azure's lazy datasets do. ``dataset.register(ws, name)`` keeps the definition in
``.mlnb/azureml/datasets/<name>/<version>.json``; the files stay where they are.

For ``Model.profile(..., input_dataset=...)`` a dataset is a list of sample requests: a
tabular dataset with one text column (Azure's ``separator='\\n'`` recipe) gives one request
per row, its text sent as the body; a tabular dataset with several columns gives one
request per row, sent as ``{"data": [[...]]}``; a file dataset gives one request per
non-empty line of its files.
"""

from __future__ import annotations

import enum
import glob
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlnb.compat.azureml._cloud import refuse
from mlnb.compat.azureml._notes import note_unused
from mlnb.compat.azureml._protocol import AzureWorkspace, local_workspace
from mlnb.compat.azureml._store import Store
from mlnb.errors import InvalidConfiguration

if TYPE_CHECKING:
    import pandas as pd
    from typing_extensions import Self

__all__ = [
    "AbstractDataset",
    "Dataset",
    "FileDataset",
    "FileDatasetFactory",
    "PromoteHeadersBehavior",
    "TabularDataset",
    "TabularDatasetFactory",
    "registered_datasets",
]

_KIND = "datasets"
_D = TypeVar("_D", bound="AbstractDataset")
_REMOTE = ("http://", "https://", "azureml://", "wasbs://", "abfss://", "adl://")


class PromoteHeadersBehavior(enum.IntEnum):
    """Which files' first line holds the column names (locally: every file's, or none)."""

    NO_HEADERS = 0
    ONLY_FIRST_FILE_HAS_HEADERS = 1
    COMBINE_ALL_FILES_HEADERS = 2
    ALL_FILES_HAVE_SAME_HEADERS = 3


class AbstractDataset:
    """A dataset over local files: their patterns, how to read them, and its registration."""

    _type = ""

    def __init__(self, patterns: Sequence[str], options: dict[str, Any]) -> None:
        self._patterns = list(patterns)
        self._options = dict(options)
        self.name: str | None = None
        self.version: int | None = None
        self.description: str | None = None
        self.tags: dict[str, str] = {}
        self.id: str | None = None

    def _files(self) -> list[Path]:
        """The files the patterns match now, in order; a folder stands for every file under it."""
        found: list[Path] = []
        for pattern in self._patterns:
            matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
            for match in map(Path, matches):
                if match.is_dir():
                    found.extend(sorted(p for p in match.rglob("*") if p.is_file()))
                elif match.is_file():
                    found.append(match)
        return found

    def register(self, workspace: AzureWorkspace, name: str, description: str | None = None,
                 tags: dict[str, str] | None = None, create_new_version: bool = False) -> Self:
        """Keep this definition in the workspace under ``name``.

        Returns:
            The registered dataset (``name``, ``version`` and ``id`` set).

        Raises:
            InvalidConfiguration: when ``name`` holds another definition and ``create_new_version`` is false.
        """
        store = Store(local_workspace(workspace))
        definition = {"type": self._type, "paths": self._patterns, "options": self._options}
        latest = store.latest(_KIND, name)
        if latest is not None and not create_new_version:
            if {key: latest.get(key) for key in definition} != definition:
                raise InvalidConfiguration(
                    f"dataset {name!r} is registered with another definition; pass create_new_version=True to add a version"
                )
            return self._registered({**latest, "name": name})
        record = {**definition, "description": description, "tags": dict(tags or {}), "id": str(uuid.uuid4())}
        version = store.add_version(_KIND, name, record)
        return self._registered({**record, "name": name, "version": str(version)})

    def _registered(self, record: dict[str, Any]) -> Self:
        twin = type(self)(record["paths"], record["options"])
        twin.name = record.get("name")
        twin.version = int(record["version"]) if record.get("version") else None
        twin.description = record.get("description")
        twin.tags = dict(record.get("tags") or {})
        twin.id = record.get("id")
        return twin

    def _requests(self) -> list[Any]:
        """The sample requests this dataset stands for (see the module docstring)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        registered = f", name={self.name!r}, version={self.version}" if self.name else ""
        return f"{type(self).__name__}(paths={self._patterns!r}{registered})"


class TabularDataset(AbstractDataset):
    """Rows read from local delimited, JSON-lines or Parquet files."""

    _type = "tabular"

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null") -> pd.DataFrame:
        """Read every file into one DataFrame (columns ``Column1``… when the files have no header).

        Raises:
            InvalidConfiguration: when the patterns match no file.
        """
        import pandas as pd

        files = self._files()
        if not files:
            raise InvalidConfiguration(f"{', '.join(self._patterns)} matches no file")
        frames = [self._read(path) for path in files]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        limit = self._options.get("take")
        return frame.head(limit) if limit is not None else frame

    def _read(self, path: Path) -> pd.DataFrame:
        import pandas as pd

        options = self._options
        encoding = options.get("encoding", "utf8")
        fmt = options.get("format", "delimited")
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "json_lines":
            frame = pd.read_json(path, lines=True, encoding=encoding)
        elif options.get("separator") == "\n":
            lines = [line for line in path.read_text(encoding=encoding).splitlines() if line.strip()]
            header = lines.pop(0) if options.get("header", True) and lines else "Column1"
            frame = pd.DataFrame({header: lines})
        else:
            frame = pd.read_csv(path, sep=options.get("separator", ","), header=0 if options.get("header", True) else None,
                                encoding=encoding, dtype=None if options.get("infer_column_types", True) else str,
                                keep_default_na=not options.get("empty_as_string", False))
            if not options.get("header", True):
                frame.columns = [f"Column{i + 1}" for i in range(len(frame.columns))]
        if options.get("include_path"):
            frame.insert(0, "Path", str(path))
        return frame

    def take(self, count: int) -> TabularDataset:
        """The first ``count`` rows, as a dataset."""
        return TabularDataset(self._patterns, {**self._options, "take": int(count)})

    def _requests(self) -> list[Any]:
        frame = self.to_pandas_dataframe()
        if len(frame.columns) == 1 and frame[frame.columns[0]].map(lambda v: isinstance(v, str)).all():
            return list(frame[frame.columns[0]])
        return [frame.iloc[[row]] for row in range(len(frame))]


class FileDataset(AbstractDataset):
    """Local files, as a collection."""

    _type = "file"

    def to_path(self) -> list[str]:
        """The files' paths relative to their common folder, each starting with ``/`` (as Azure lists them)."""
        files = self._files()
        root = _common_folder(files)
        return ["/" + path.relative_to(root).as_posix() for path in files]

    def download(self, target_path: str | os.PathLike[str] | None = None, overwrite: bool = False,
                 ignore_not_found: bool = False) -> list[str]:
        """Copy the files into ``target_path`` (default: a new temporary folder), keeping their layout.

        Returns:
            The paths of the copies.

        Raises:
            InvalidConfiguration: when a copy exists and ``overwrite`` is false, or (unless
                ``ignore_not_found``) when the patterns match no file.
        """
        files = self._files()
        if not files and not ignore_not_found:
            raise InvalidConfiguration(f"{', '.join(self._patterns)} matches no file")
        target = Path(target_path) if target_path is not None else Path(tempfile.mkdtemp(prefix="mlnb-dataset-"))
        root = _common_folder(files)
        copies = []
        for path in files:
            copy = target / path.relative_to(root)
            if copy.exists() and not overwrite:
                raise InvalidConfiguration(f"{copy} exists; pass overwrite=True to replace it")
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
            copies.append(str(copy))
        return copies

    def mount(self, mount_point: str | None = None, **kwargs: Any) -> Any:
        """Not mapped: the files are local already (Azure mounts cloud storage).

        Raises:
            InvalidConfiguration: always, pointing at :meth:`download` and the paths.
        """
        raise InvalidConfiguration("the files of a local dataset are on disk already: read them where they are "
                                   "(dataset.to_path()) or copy them with dataset.download(target_path)")

    def _requests(self) -> list[Any]:
        return [line for path in self._files() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class TabularDatasetFactory:
    """``Dataset.Tabular``: tabular datasets from local files."""

    @staticmethod
    def from_delimited_files(path: Any, validate: bool = True, include_path: bool = False, infer_column_types: bool = True,
                             set_column_types: dict[str, Any] | None = None, separator: str = ",",
                             header: bool | PromoteHeadersBehavior = True, partition_format: str | None = None,
                             support_multi_line: bool = False, empty_as_string: bool = False,
                             encoding: str = "utf8") -> TabularDataset:
        """Rows of local CSV (or other delimited) files; ``separator='\\n'`` makes each line one row.

        Args:
            path: a local path, folder or glob pattern, or a list of them.
            validate: check now that the files exist.
            include_path: add a ``Path`` column.
            infer_column_types: let pandas infer types (else every column is text).
            set_column_types: Azure's column types; not applied locally (a note says so).
            separator: the field separator.
            header: whether the files start with column names (``PromoteHeadersBehavior``
                values other than ``NO_HEADERS`` mean yes).
            partition_format: Azure's path partitions; not applied locally.
            support_multi_line: quoted fields may hold line breaks (pandas always reads them).
            empty_as_string: keep empty fields as ``""`` instead of missing values.
            encoding: the files' encoding.
        """
        note_unused("Dataset.Tabular.from_delimited_files", {"set_column_types": set_column_types,
                                                             "partition_format": partition_format},
                    "local files are read with pandas' own types")
        return _make(TabularDataset, path, validate, {
            "format": "delimited", "include_path": include_path, "infer_column_types": infer_column_types,
            "separator": separator, "header": bool(header), "empty_as_string": empty_as_string, "encoding": encoding,
        })

    @staticmethod
    def from_json_lines_files(path: Any, validate: bool = True, include_path: bool = False,
                              set_column_types: dict[str, Any] | None = None, partition_format: str | None = None,
                              invalid_lines: str = "error", encoding: str = "utf8") -> TabularDataset:
        """Rows of local JSON-lines files (one JSON object per line)."""
        note_unused("Dataset.Tabular.from_json_lines_files", {"set_column_types": set_column_types,
                                                              "partition_format": partition_format,
                                                              "invalid_lines": None if invalid_lines == "error" else invalid_lines},
                    "local files are read with pandas")
        return _make(TabularDataset, path, validate, {"format": "json_lines", "include_path": include_path, "encoding": encoding})

    @staticmethod
    def from_parquet_files(path: Any, validate: bool = True, include_path: bool = False,
                           set_column_types: dict[str, Any] | None = None, partition_format: str | None = None) -> TabularDataset:
        """Rows of local Parquet files (reading them needs pyarrow)."""
        note_unused("Dataset.Tabular.from_parquet_files", {"set_column_types": set_column_types,
                                                           "partition_format": partition_format},
                    "local files are read with pandas")
        return _make(TabularDataset, path, validate, {"format": "parquet", "include_path": include_path})


class FileDatasetFactory:
    """``Dataset.File``: file datasets from local files."""

    @staticmethod
    def from_files(path: Any, validate: bool = True, partition_format: str | None = None, is_file: bool = False) -> FileDataset:
        """Local files: paths, folders (every file under them) or glob patterns."""
        note_unused("Dataset.File.from_files", {"partition_format": partition_format}, "local paths are used as they are")
        return _make(FileDataset, path, validate, {})


class Dataset:
    """Azure's entry point to datasets: ``Dataset.Tabular``, ``Dataset.File`` and the registered ones."""

    Tabular = TabularDatasetFactory
    File = FileDatasetFactory

    @staticmethod
    def get_by_name(workspace: AzureWorkspace, name: str, version: str | int = "latest", **kwargs: Any) -> AbstractDataset:
        """A registered dataset by name (the latest version unless ``version`` is given).

        Raises:
            InvalidConfiguration: for an unknown name or version.
        """
        store = Store(local_workspace(workspace))
        record = store.latest(_KIND, name) if version == "latest" else store.read(_KIND, name, str(version))
        if record is None:
            raise InvalidConfiguration(f"no dataset {name!r} (version {version}) is registered; register it with dataset.register(ws, name)")
        return _from_record(record, name)

    @staticmethod
    def get_by_id(workspace: AzureWorkspace, id: str, **kwargs: Any) -> AbstractDataset:  # noqa: A002 - Azure's name
        """A registered dataset by the id :meth:`AbstractDataset.register` gave it.

        Raises:
            InvalidConfiguration: when no registered dataset has that id.
        """
        store = Store(local_workspace(workspace))
        for name in store.names(_KIND):
            for version in store.versions(_KIND, name):
                record = store.read(_KIND, name, str(version))
                if record is not None and record.get("id") == id:
                    return _from_record(record, name)
        raise InvalidConfiguration(f"no registered dataset has id {id!r}")


def registered_datasets(workspace: AzureWorkspace) -> dict[str, AbstractDataset]:
    """The latest version of every registered dataset, by name."""
    store = Store(local_workspace(workspace))
    return {name: _from_record(record, name) for name in store.names(_KIND) if (record := store.latest(_KIND, name)) is not None}


def _from_record(record: dict[str, Any], name: str) -> AbstractDataset:
    kind: type[AbstractDataset] = TabularDataset if record.get("type") == TabularDataset._type else FileDataset
    return kind(record["paths"], record["options"])._registered({**record, "name": name})


def _make(kind: type[_D], path: Any, validate: bool, options: dict[str, Any]) -> _D:
    patterns = _local_patterns(path)
    if validate:
        for pattern in patterns:
            if not (glob.glob(pattern, recursive=True) if glob.has_magic(pattern) else os.path.exists(pattern)):
                raise InvalidConfiguration(f"{pattern} matches no file; check the path (or pass validate=False)")
    return kind(patterns, options)


def _local_patterns(path: Any) -> list[str]:
    items: Iterable[Any] = path if isinstance(path, list) or (isinstance(path, tuple) and not _is_datastore_path(path)) else [path]
    patterns: list[str] = []
    for item in items:
        if _is_datastore_path(item) or not isinstance(item, (str, os.PathLike)):
            refuse(f"a datastore path ({item!r})", "pass local file paths or glob patterns")
        text = os.fspath(item)
        if text.startswith(_REMOTE):
            refuse(f"reading {text}", "download the file and pass its local path")
        patterns.append(os.path.abspath(text))
    if not patterns:
        raise InvalidConfiguration("path names no file; pass a path, a glob pattern, or a list of them")
    return patterns


def _is_datastore_path(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and not isinstance(item[0], (str, os.PathLike))


def _common_folder(files: Sequence[Path]) -> Path:
    if not files:
        return Path("/")
    return Path(os.path.commonpath([str(p.parent) for p in files]))
