"""``RegistryPanel``: browse, download, delete and register models."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from mlnb._facade import Model
from mlnb.errors import InvalidConfiguration
from mlnb.registry import Framework, Workspace, format_size
from mlnb.registry import Model as RegisteredModel
from mlnb.widgets._background import Background
from mlnb.widgets._style import bar, panel, stylesheet, title

_ROW = "{name:<28} {version:>7}  {framework:<12} {size:>9}  {tags}"


class RegistryPanel(widgets.VBox):
    """The model registry: every version with its tags, framework and size.

    Select a version to see its details, download it or delete it (*Delete* asks for a
    second click); the form below registers a file or folder as a new version.

    Args:
        workspace: the workspace whose registry to show.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._listeners: list[Callable[[], None]] = []
        self._status = widgets.HTML()
        self._jobs = Background(self._status)
        self._models: dict[str, RegisteredModel] = {}
        self._armed_delete: str | None = None

        self._header = widgets.HTML(
            f"<pre class='mlnb-mono' style='margin:0 0 0 4px'><b>{html.escape(_header())}</b></pre>"
        )
        self._list = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="100%"))
        self._list.add_class("mlnb-list")
        self._list.observe(self._on_select, names="value")
        self._details = widgets.HTML("<span class='mlnb-muted'>select a model to see its details</span>")
        self._refresh = widgets.Button(description="Refresh", icon="refresh")
        self._target = widgets.Text(value=".", description="Into folder", style={"description_width": "initial"})
        self._download = widgets.Button(description="Download", icon="download", disabled=True)
        self._delete = widgets.Button(description="Delete", icon="trash", button_style="danger", disabled=True)
        self._refresh.on_click(lambda _: self._jobs.run(self.refresh, buttons=[self._refresh]))
        self._download.on_click(self._on_download)
        self._delete.on_click(self._on_delete)

        self._name = widgets.Text(description="Name", placeholder="sklearn_regression_model")
        self._path = widgets.Text(description="Path", placeholder="outputs/model.pkl (a file or a folder)")
        self._tags = widgets.Text(description="Tags", placeholder="area=diabetes, type=regression")
        self._description = widgets.Text(description="Description", placeholder="a sentence about the model")
        self._framework = widgets.Dropdown(
            options=[("(none)", "")] + [(f, f) for f in Framework.ALL], value="", description="Framework"
        )
        self._register = widgets.Button(description="Register", icon="plus", button_style="primary")
        self._register.on_click(self._on_register)
        # The form's own status line, under its button: an error shows where the click was.
        self._register_status = widgets.HTML()
        self._register_jobs = Background(self._register_status)
        form = widgets.VBox(
            [title("Register a model"), self._name, self._path, self._tags, self._description, self._framework,
             self._register, self._register_status],
            layout=widgets.Layout(min_width="340px"),
        )
        actions = bar([self._download, self._target, self._delete])
        browser = widgets.VBox(
            [bar([title("Models"), self._refresh]), self._header, self._list, actions, self._details],
            layout=widgets.Layout(flex="1 1 auto", margin="0 24px 0 0"),
        )
        super().__init__([stylesheet(), widgets.HBox([browser, form]), self._status])
        panel(self)
        self.refresh()

    # -- the list ----------------------------------------------------------------------

    @property
    def selected(self) -> RegisteredModel | None:
        """The selected model version, if any."""
        return self._models.get(self._list.value) if self._list.value else None

    def select(self, model_id: str) -> None:
        """Select a version by id (``"name:version"``)."""
        self._list.value = model_id

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after a registration or deletion."""
        self._listeners.append(callback)

    def refresh(self) -> None:
        """Read the registry again, keeping the selection when it still exists."""
        models = Model.list(self.workspace)
        self._models = {m.id: m for m in models}
        keep = self._list.value
        self._list.options = [(_row(m), m.id) for m in models]
        self._list.value = keep if keep in self._models else None
        self._on_select({"new": self._list.value})

    def _on_select(self, change: dict[str, Any]) -> None:
        model = self._models.get(change["new"]) if change["new"] else None
        self._armed_delete = None
        self._delete.description = "Delete"
        self._download.disabled = self._delete.disabled = model is None
        self._details.value = (
            model._repr_html_() if model is not None else "<span class='mlnb-muted'>select a model to see its details</span>"
        )

    # -- actions -----------------------------------------------------------------------

    def _on_download(self, _: widgets.Button) -> None:
        model, target = self.selected, self._target.value or "."
        if model is None:
            return

        def work() -> None:
            path = model.download(target_dir=target, exist_ok=True)
            self._status.value = f"<span class='mlnb-ok'>&#x2714; downloaded {html.escape(model.id)} to {html.escape(path)}</span>"

        self._jobs.run(work, buttons=[self._download, self._delete], name="mlnb-download")

    def _on_delete(self, _: widgets.Button) -> None:
        model = self.selected
        if model is None:
            return
        # Deleting is forever: the first click arms, the second deletes.
        if self._armed_delete != model.id:
            self._armed_delete = model.id
            self._delete.description = "Confirm delete"
            self._status.value = f"<span class='mlnb-error'>click <b>Confirm delete</b> to delete {html.escape(model.id)} and its files</span>"
            return

        def work() -> None:
            model.delete()
            self.refresh()
            self._status.value = f"<span class='mlnb-ok'>&#x2714; deleted {html.escape(model.id)}</span>"
            self._notify()

        self._jobs.run(work, buttons=[self._download, self._delete], name="mlnb-delete")

    def _on_register(self, _: widgets.Button) -> None:
        name, path, framework = self._name.value.strip(), self._path.value.strip(), self._framework.value or None
        description = self._description.value.strip() or None
        tags_text = self._tags.value

        def work() -> None:
            if not name or not path:
                raise InvalidConfiguration("a model needs a name and a path to register")
            model = Model.register(
                self.workspace, path, name, tags=parse_tags(tags_text), description=description, model_framework=framework
            )
            self.refresh()
            self.select(model.id)
            self._register_status.value = f"<span class='mlnb-ok'>&#x2714; registered {html.escape(model.id)}</span>"
            self._notify()

        self._register_jobs.run(work, buttons=[self._register], name="mlnb-register")

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running download, deletion or registration (tests and scripts)."""
        self._jobs.join(timeout)
        self._register_jobs.join(timeout)


def parse_tags(text: str) -> dict[str, str]:
    """``"a=1, b=2"`` as ``{"a": "1", "b": "2"}``.

    Raises:
        InvalidConfiguration: for a part that is not ``key=value``.
    """
    tags = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidConfiguration(f"tags are key=value pairs separated by commas (not {part!r})")
        tags[key.strip()] = value.strip()
    return tags


def _header() -> str:
    return _ROW.format(name="name", version="version", framework="framework", size="size", tags="tags")


def _row(model: RegisteredModel) -> str:
    tags = ", ".join(f"{k}={v}" for k, v in model.tags.items())
    # Non-breaking spaces: a browser collapses runs of plain spaces in an <option>, losing the columns.
    return _ROW.format(
        name=_clip(model.name, 28),
        version=model.version,
        framework=_clip(model.model_framework or "-", 12),
        size=format_size(model.size),
        tags=tags,
    ).replace(" ", "\u00a0")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
