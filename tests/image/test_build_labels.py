"""How a build labels its stages, and the image-keeping setting,
without an engine (tests/docker/test_docker_prune.py builds and prunes for real)."""

from __future__ import annotations

import pytest

from mlnb.errors import InvalidConfiguration
from mlnb.image import DEFAULT_KEEP_IMAGES, keep_images_setting, render_dockerfile
from mlnb.image._build import label_stages

LABELS = {"mlnb.workspace": "/home/ana/my project/.mlnb", "mlnb.service": "svc"}


def test_every_stage_but_the_last_ends_with_the_labels() -> None:
    dockerfile = render_dockerfile(base_image="base:1", entry_script="score.py", model_dir="/models/m/1", python_version="3.11")
    labelled = label_stages(dockerfile, LABELS).splitlines()
    froms = [i for i, line in enumerate(labelled) if line.startswith("FROM ")]
    assert len(froms) == 2
    assert labelled[froms[1] - 1] == 'LABEL mlnb.workspace="/home/ana/my project/.mlnb" mlnb.service="svc" mlnb.stage="dependencies"'
    # Nothing else changed: the label is the one added line.
    assert [line for line in labelled if not line.startswith("LABEL ")] == dockerfile.splitlines()


def test_continuations_comments_and_unnamed_stages() -> None:
    dockerfile = "\n".join(
        [
            "# FROM in a comment is no stage",
            "FROM base:1",
            "RUN echo one \\",
            "# a comment inside the continuation",
            "  FROM-looking text \\",
            "  && echo two",
            "from base:1 as second",
            "COPY --from=0 /a /a",
            "FROM base:1",
        ]
    )
    lines = label_stages(dockerfile, {"k": "v"}).splitlines()
    assert [line for line in lines if line.startswith("LABEL")] == ['LABEL k="v" mlnb.stage="0"', 'LABEL k="v" mlnb.stage="second"']
    assert lines.index('LABEL k="v" mlnb.stage="0"') == lines.index("from base:1 as second") - 1
    assert lines[-2:] == ['LABEL k="v" mlnb.stage="second"', "FROM base:1"]


def test_label_values_are_quoted_for_the_dockerfile() -> None:
    (label,) = [line for line in label_stages("FROM a AS x\nFROM b\n", {"k": 'say "$HOME" \\ done'}).splitlines() if line.startswith("LABEL")]
    assert label == 'LABEL k="say \\"\\$HOME\\" \\\\ done" mlnb.stage="x"'


def test_a_single_stage_gets_no_label_line() -> None:
    assert label_stages("FROM a\nRUN true\n", LABELS) == "FROM a\nRUN true\n"


@pytest.mark.parametrize(("value", "expected"), [(None, DEFAULT_KEEP_IMAGES), ("", DEFAULT_KEEP_IMAGES), ("0", 0), (" 5 ", 5)])
def test_keep_images_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: int) -> None:
    if value is None:
        monkeypatch.delenv("MLNB_KEEP_IMAGES", raising=False)
    else:
        monkeypatch.setenv("MLNB_KEEP_IMAGES", value)
    assert keep_images_setting() == expected


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_keep_images_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MLNB_KEEP_IMAGES", value)
    with pytest.raises(InvalidConfiguration, match=f"MLNB_KEEP_IMAGES='{value}' is not a number of images"):
        keep_images_setting()
