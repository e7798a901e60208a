"""The panels' look: one small stylesheet and a few HTML helpers.

The stylesheet travels in an ``HTML`` widget, so it works wherever ipywidgets render
(JupyterLab, Notebook 7, VS Code, Voila) with no front-end extension.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

_CSS = """
<style>
.mlnb-panel { font-size: 13px; }
.mlnb-panel .mlnb-title { font-size: 15px; font-weight: 600; margin: 2px 0 6px; }
.mlnb-panel .mlnb-bar { gap: 8px; align-items: center; flex-wrap: wrap; }
.mlnb-panel .mlnb-muted { color: #6b7280; }
.mlnb-panel .mlnb-error { color: #b42318; font-weight: 500; }
.mlnb-panel .mlnb-ok { color: #067647; font-weight: 500; }
.mlnb-panel pre.mlnb-trace { font-size: 11px; max-height: 16em; overflow: auto; }
.mlnb-panel table.mlnb-table { border-collapse: collapse; width: 100%; }
.mlnb-panel table.mlnb-table th { text-align: left; font-weight: 600; color: #374151;
  border-bottom: 1px solid #d0d5dd; padding: 3px 10px 3px 0; }
.mlnb-panel table.mlnb-table td { text-align: left; padding: 3px 10px 3px 0;
  border-bottom: 1px solid #eaecf0; vertical-align: top; }
.mlnb-panel .mlnb-state { display: inline-block; padding: 1px 8px; border-radius: 9px;
  font-size: 12px; font-weight: 600; color: #fff; background: #98a2b3; }
.mlnb-panel .mlnb-state-Healthy { background: #12b76a; }
.mlnb-panel .mlnb-state-Transitioning { background: #2e90fa; }
.mlnb-panel .mlnb-state-Unhealthy { background: #f79009; }
.mlnb-panel .mlnb-state-Failed { background: #f04438; }
.mlnb-panel .mlnb-steps { display: flex; gap: 4px; align-items: center; margin: 4px 0; }
.mlnb-panel .mlnb-step { padding: 2px 10px; border-radius: 10px; font-size: 12px;
  background: #f2f4f7; color: #98a2b3; border: 1px solid #eaecf0; }
.mlnb-panel .mlnb-step-done { background: #ecfdf3; color: #067647; border-color: #abefc6; }
.mlnb-panel .mlnb-step-now { background: #eff8ff; color: #175cd3; border-color: #84caff; font-weight: 600; }
.mlnb-panel .mlnb-step-failed { background: #fef3f2; color: #b42318; border-color: #fecdca; font-weight: 600; }
.mlnb-panel .mlnb-list select { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12px; }
.mlnb-panel .mlnb-mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.mlnb-panel .mlnb-log { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 11.5px; line-height: 1.35; background: #0f172a; color: #e2e8f0; border-radius: 6px;
  padding: 6px 8px; box-sizing: border-box; overflow: auto;
  display: flex; flex-direction: column-reverse; }
.mlnb-panel .mlnb-log pre { margin: 0; white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere;
  font: inherit; color: inherit; background: none; overflow: visible; max-height: none; flex: none; }
.mlnb-panel textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
</style>
"""


def stylesheet() -> widgets.HTML:
    """A widget carrying the panels' CSS (harmless when included more than once)."""
    return widgets.HTML(_CSS, layout=widgets.Layout(display="none"))


def title(text: str) -> widgets.HTML:
    """A panel heading."""
    return widgets.HTML(f"<div class='mlnb-title'>{html.escape(text)}</div>")


def state_badge(state: str) -> str:
    """A service state as a coloured pill."""
    return f"<span class='mlnb-state mlnb-state-{html.escape(state)}'>{html.escape(state)}</span>"


def table(head: list[str], rows: list[list[str]]) -> str:
    """An HTML table; cells are already-escaped HTML."""
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table class='mlnb-table'><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def panel(widget: widgets.Box) -> widgets.Box:
    """Mark a box as an mlnb panel, so the stylesheet applies inside it."""
    widget.add_class("mlnb-panel")
    return widget


def bar(children: list[widgets.Widget]) -> widgets.HBox:
    """A row of controls, spaced."""
    row = widgets.HBox(children)
    row.add_class("mlnb-bar")
    return row
