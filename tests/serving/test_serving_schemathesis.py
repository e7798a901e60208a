"""Property-based requests from the service's own OpenAPI document never cause a 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Server, script


def test_no_server_errors_for_generated_requests(launch: object, tmp_path: Path) -> None:
    server: Server = launch(["--entry-script", script("schema_numpy.py"), "--workers", "2"])  # type: ignore[operator]
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(cli), "run", f"{server.url}/swagger.json?version=3", "--checks", "not_a_server_error",
         "--max-examples", "150", "--phases", "examples,coverage,fuzzing", "--seed", "1"],
        capture_output=True, text=True, timeout=170, env={**os.environ, "NO_COLOR": "1"}, cwd=tmp_path,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.log()}"
