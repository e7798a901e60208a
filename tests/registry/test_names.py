"""Model names and ids are validated whole: no trailing newline, no lookalikes, no flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlnb import Model, Workspace
from mlnb.errors import InvalidModelName
from mlnb.registry import parse_model_id, validate_name

REFUSED = [
    "name\n",  # `$` matches before a final newline: the bug this file guards against
    "name\r",
    "name\r\n",
    "\nname",
    " name",
    "name ",
    "na me",
    "-name",  # would read as a flag on a command line
    "--name",
    ".name",
    "_name",
    "nаme",  # Cyrillic а (U+0430)
    "ｎａｍｅ",  # fullwidth letters
    "name١",  # Arabic-Indic digit one
    "name\u200b",  # zero-width space
    "a" * 256,
    "",
    "a/b",
    "a:1",
]


@pytest.mark.parametrize("name", REFUSED, ids=repr)
def test_validate_name_refuses(name: str) -> None:
    with pytest.raises(InvalidModelName, match="invalid model name"):
        validate_name(name)


@pytest.mark.parametrize("name", ["a", "A1", "0", "a-b.c_d", "a" * 255, "model.pkl-v2"])
def test_validate_name_accepts(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["name\n", "-name", "a" * 256, "nаme"], ids=repr)
def test_register_refuses_and_leaves_nothing(tmp_path: Path, name: str) -> None:
    ws = Workspace.create(tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"w")
    with pytest.raises(InvalidModelName):
        Model.register(ws, tmp_path / "model.pkl", name)
    assert Model.list(ws) == []
    assert list((ws.path / "checkouts").iterdir()) == []


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [("diabetes", ("diabetes", None)), ("diabetes:3", ("diabetes", 3)), ("a" * 255 + ":12", ("a" * 255, 12))],
)
def test_parse_model_id(model_id: str, expected: tuple[str, int | None]) -> None:
    assert parse_model_id(model_id) == expected


@pytest.mark.parametrize(
    "model_id",
    ["diabetes:3\n", "diabetes\n", "diabetes:3\r", " diabetes:3", "diabetes:٣", "diabetes:", ":3", "-x:1",
     "diabetes:3:4", "a" * 256 + ":1", "nаme:1"],
    ids=repr,
)
def test_parse_model_id_refuses(model_id: str) -> None:
    with pytest.raises(InvalidModelName, match="invalid model id"):
        parse_model_id(model_id)
