"""``python -m mlnb.cli``: the same as the ``mlnb`` command."""

from __future__ import annotations

import sys

from mlnb.cli._main import main

sys.exit(main())
