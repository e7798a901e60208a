from __future__ import annotations

import mlnb


def test_all_is_sorted_and_every_name_exists() -> None:
    assert mlnb.__all__ == sorted(mlnb.__all__)
    for name in mlnb.__all__:
        assert hasattr(mlnb, name), name


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(mlnb).items()
        if not name.startswith("_") and not isinstance(value, type(mlnb)) and name != "annotations"
    }
    assert public <= set(mlnb.__all__)


def test_version_is_a_string() -> None:
    assert isinstance(mlnb.__version__, str) and mlnb.__version__.count(".") == 2
