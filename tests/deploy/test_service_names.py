"""Service names are validated whole (Azure's rule): no trailing newline, lookalikes or flags."""

from __future__ import annotations

import pytest

from mlnb.deploy import validate_service_name
from mlnb.errors import InvalidConfiguration


@pytest.mark.parametrize(
    "name",
    ["myservice\n", "myservice\r", "myservice\r\n", " myservice", "myservice ", "-myservice", "--help",
     "mysеrvice",  # Cyrillic е (U+0435)
     "myservice١", "ｍyservice", "my_service", "MyService", "ab", "a" * 33, "a" * 255, "a" * 256, "myservice-", "1abc"],
    ids=repr,
)
def test_refused(name: str) -> None:
    with pytest.raises(InvalidConfiguration, match="invalid service name"):
        validate_service_name(name)


@pytest.mark.parametrize("name", ["abc", "myservice", "my-service-2", "a" * 32])
def test_accepted(name: str) -> None:
    assert validate_service_name(name) == name
