"""``python -m mlnb.serving`` and ``mlnb serve``: parse settings, then serve."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from mlnb.serving.settings import SettingsError, parse_settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scoring server.

    Args:
        argv: Command-line arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 after a normal shutdown, 3 when the entry script's import or
        ``init()`` failed (its traceback is in the log), 2 for bad arguments (an unusable
        setting, such as an unsafe keys file or a missing entry script, is one line on stderr).

    Example::

        main(["--entry-script", "score.py", "--model-dir", "azureml-models", "--port", "5001"])
    """
    try:
        settings = parse_settings(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except SettingsError as exc:
        print(f"mlnb.serving: error: {exc}", file=sys.stderr, flush=True)
        return 2
    script = Path(settings.app_root, settings.entry_script)  # an absolute entry script replaces the root
    if not script.is_file():
        print(f"mlnb.serving: error: entry script {script} is not a file; check --entry-script "
              f"(a relative path starts at --app-root, {settings.app_root})", file=sys.stderr, flush=True)
        return 2
    from mlnb.serving.supervisor import serve

    return serve(settings)
