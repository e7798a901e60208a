"""The ``mlnb`` command line (``mlnb model|deploy|service|profile|package|serve|demo``)."""

from __future__ import annotations

from mlnb.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
