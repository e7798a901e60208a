"""`.ci/base-image` builds from the machine's configured Debian mirror, or says there is none.

The script is run for real (bash) with ``--mirror``, which prints the mirror an offline build
would use, over a fake ``/etc/apt`` tree (``MLNB_APT_ROOT``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "base-image"

DEBIAN_SOURCES = """\
Types: deb
URIs: http://mirror.example.internal/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

SECURITY_FIRST = """\
Types: deb
URIs: http://security.example.internal/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://mirror.example.internal/debian
Suites: bookworm
Components: main
"""

DISABLED_FIRST = """\
Types: deb
URIs: http://disabled.example.internal/debian
Suites: bookworm
Components: main
Enabled: no

# a comment between stanzas
Types: deb deb-src
URIs: http://mirror.example.internal/debian http://second.example.internal/debian
Suites: bookworm
Components: main
"""


def mirror(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "MLNB_DEBIAN_MIRROR"}
    return subprocess.run(
        ["bash", str(SCRIPT), "--mirror"], env={**environ, "MLNB_APT_ROOT": str(root), **env},
        capture_output=True, text=True, check=False, timeout=30,
    )


def apt_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / "etc" / "apt" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "etc" / "apt" / "sources.list.d").mkdir(parents=True, exist_ok=True)
    return root


@pytest.mark.parametrize(
    "files",
    [
        {"sources.list.d/debian.sources": DEBIAN_SOURCES},
        {"sources.list.d/debian.sources": SECURITY_FIRST},
        {"sources.list.d/debian.sources": DISABLED_FIRST},
        {"sources.list": "# deb http://commented.example.internal/debian bookworm main\n"
                         "deb-src http://src.example.internal/debian bookworm main\n"
                         "deb http://security.example.internal/debian-security bookworm-security main\n"
                         "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example.internal/debian bookworm main\n"},
        {"sources.list.d/local.list": "deb http://mirror.example.internal/debian bookworm main contrib\n"},
    ],
    ids=["deb822", "deb822-security-first", "deb822-disabled-first", "one-line-sources.list", "one-line-list-file"],
)
def test_the_configured_mirror_is_used(tmp_path: Path, files: dict[str, str]) -> None:
    result = mirror(apt_tree(tmp_path, files))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "http://mirror.example.internal/debian\n"


@pytest.mark.parametrize(
    "files",
    [{}, {"sources.list": "deb-src http://src.example.internal/debian bookworm main\n"},
     {"sources.list.d/debian.sources": "Types: deb\nURIs: http://x.example.internal/debian\nSuites: bookworm\nEnabled: no\n"}],
    ids=["no-sources", "only-deb-src", "only-disabled"],
)
def test_no_configured_mirror_is_one_clear_line(tmp_path: Path, files: dict[str, str]) -> None:
    result = mirror(apt_tree(tmp_path, files))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"[base-image] error: no Debian mirror configured in {tmp_path}/etc/apt (sources.list, "
        "sources.list.d/*.list or *.sources); configure apt, or set MLNB_DEBIAN_MIRROR=URL"
    ]


def test_the_environment_override_wins(tmp_path: Path) -> None:
    result = mirror(apt_tree(tmp_path, {}), MLNB_DEBIAN_MIRROR="http://chosen.example.internal/debian")
    assert (result.returncode, result.stdout) == (0, "http://chosen.example.internal/debian\n")


def test_no_mirror_host_is_hard_coded() -> None:
    assert "deb.debian.org" not in SCRIPT.read_text()
