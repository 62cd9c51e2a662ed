"""`moodkiosk central --http HOST:PORT`: every bad value is the one CentralError line, never a ValueError."""
from __future__ import annotations

import pytest

from central.cli import parse_hostport
from central.errors import CentralError


@pytest.mark.parametrize("text, expected", [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:443", ("::1", 443))])
def test_good_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize("text", ["8080", ":8080", "host:", "host:0", "host:65536", "host:80a", "host:²",
                                  "host:８０８０", "host:-1"])
def test_bad_addresses_name_the_option(text: str) -> None:
    with pytest.raises(CentralError, match="--http .* must be HOST:PORT"):
        parse_hostport(text)
