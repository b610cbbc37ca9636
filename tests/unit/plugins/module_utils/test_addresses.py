"""Address helpers: canonical text, rejection of what is not a plain IP literal."""

from __future__ import annotations

import pytest
from ansible_collections.lvs.dr.plugins.module_utils.addresses import normalize_ip, split_host_port


@pytest.mark.parametrize(("text", "canonical"), [
    ("192.0.2.1", "192.0.2.1"),
    (" 192.0.2.1 ", "192.0.2.1"),
    ("2001:DB8:0:0::1", "2001:db8::1"),
    ("[2001:db8::1]", "2001:db8::1"),
])
def test_normalize_ip(text: str, canonical: str) -> None:
    assert normalize_ip(text) == canonical
    assert normalize_ip(text) == canonical  # the cached answer is the same


@pytest.mark.parametrize("value", [None, 5, "", "  ", "192.0.2.300", "192.0.2.0/24", "fe80::1%eth0", "host"])
def test_normalize_ip_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        normalize_ip(value)
    with pytest.raises(ValueError):  # also when asked again (errors are not cached as answers)
        normalize_ip(value)


def test_split_host_port() -> None:
    assert split_host_port("[2001:DB8::1]:80") == ("2001:db8::1", 80)
    assert split_host_port("192.0.2.1:8080") == ("192.0.2.1", 8080)
    assert split_host_port("2001:db8::1") == ("2001:db8::1", None)
