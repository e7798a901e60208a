"""``python -m mlnb.serving``."""

from mlnb.serving.cli import main

raise SystemExit(main())
