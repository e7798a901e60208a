"""The one place that renders HTML for notebooks, so every result object looks alike.

Two shapes cover everything mlnb shows: a *card* (one object: a title over a two-column
table of fields) and a *table* (a list of objects: a header row and one row each). Values
are escaped unless they are :class:`Markup`, which the helpers below (:func:`state`,
:func:`code`, :func:`link`, :func:`pre`, :func:`details`, :func:`image`) produce. Wide tables scroll
inside the cell instead of widening it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mlnb._links import browser_link

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Markup", "card", "code", "details", "frame", "image", "link", "outcome", "pre", "state", "table"]

_STATE_COLOURS = {
    "Healthy": "green",
    "Succeeded": "green",
    "Transitioning": "darkgoldenrod",
    "Running": "darkgoldenrod",
    "Unhealthy": "orange",
    "Unknown": "gray",
    "Failed": "red",
    "Cancelled": "gray",
    "Deleted": "gray",
}
_CELL = "text-align:left;vertical-align:top;padding:2px 8px"
_SCROLL = "max-width:100%;overflow-x:auto"


class Markup(str):
    """Text that is already HTML and must not be escaped again."""


def _cell(value: object) -> str:
    return value if isinstance(value, Markup) else html.escape(str(value))


def card(title: str, fields: Iterable[tuple[str, object]], *, footer: str = "") -> str:
    """One object: ``title`` in bold over a table of ``(label, value)`` rows.

    Args:
        title: plain text.
        fields: rows; values are escaped unless they are :class:`Markup`.
        footer: HTML placed under the table (a plot, a warning).
    """
    rows = "".join(f"<tr><th style='{_CELL}'>{html.escape(label)}</th><td style='{_CELL}'>{_cell(value)}</td></tr>" for label, value in fields)
    return (
        f"<div class='mlnb-card'><div><b>{html.escape(title)}</b></div>"
        f"<div style='{_SCROLL}'><table>{rows}</table></div>{footer}</div>"
    )


def table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str, title: str | None = None) -> str:
    """A list of objects: a header of ``columns`` and one row each.

    Args:
        columns: the column names.
        rows: the rows; values are escaped unless they are :class:`Markup`.
        empty: the sentence shown instead of an empty table ("no services deployed").
        title: plain text above the table.
    """
    body = "".join("<tr>" + "".join(f"<td style='{_CELL}'>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    heading = f"<div><b>{html.escape(title)}</b></div>" if title else ""
    if not body:
        return f"<div class='mlnb-table'>{heading}<i>{html.escape(empty)}</i></div>"
    head = "".join(f"<th style='{_CELL}'>{html.escape(c)}</th>" for c in columns)
    return (
        f"<div class='mlnb-table'>{heading}<div style='{_SCROLL}'><table>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></div>"
    )


def frame(data: pd.DataFrame, *, empty: str, title: str | None = None) -> str:
    """A DataFrame as a :func:`table` (its index is left out)."""
    return table([str(c) for c in data.columns], data.itertuples(index=False, name=None), empty=empty, title=title)


def state(value: str) -> Markup:
    """A lifecycle state (``Healthy``, ``Failed``, …) in its colour."""
    return _coloured(value, _STATE_COLOURS.get(value, "gray"))


def outcome(text: str, *, ok: bool) -> Markup:
    """A result (``200 OK``, ``500 Internal Server Error``) in green or red."""
    return _coloured(text, _STATE_COLOURS["Healthy" if ok else "Failed"])


def _coloured(text: str, colour: str) -> Markup:
    return Markup(f"<span style='color:{colour};font-weight:bold'>{html.escape(text)}</span>")


def code(text: str) -> Markup:
    """Inline monospace text (a URI, a path, an id)."""
    return Markup(f"<code>{html.escape(text)}</code>")


def link(uri: str) -> Markup:
    """A service URI, shown as it is, linked to where this browser reaches it (see :mod:`mlnb._links`)."""
    return Markup(f"<a class='mlnb-mono' href='{html.escape(browser_link(uri))}' target='_blank'><code>{html.escape(uri)}</code></a>")


def pre(text: str, *, max_height_em: int = 20) -> Markup:
    """A block of preformatted text that scrolls past ``max_height_em``."""
    return Markup(f"<pre style='margin:0;max-height:{max_height_em}em;overflow:auto'>{html.escape(text)}</pre>")


def details(summary: str, content: str) -> Markup:
    """A collapsed section: ``summary`` (text) opens ``content`` (HTML)."""
    return Markup(f"<details><summary>{html.escape(summary)}</summary>{content}</details>")


def image(png: bytes, *, alt: str) -> Markup:
    """A PNG inline, as wide as the cell at most."""
    data = base64.b64encode(png).decode()
    return Markup(f"<img style='max-width:100%' alt='{html.escape(alt)}' src='data:image/png;base64,{data}'/>")
